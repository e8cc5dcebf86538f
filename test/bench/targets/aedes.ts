/** Target (a): a bare aedes broker (test/bench/bare-aedes.ts, TCP_NODELAY on) in a process of its own. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BoundedProcess } from '../proc.ts'
import { anonymousDevices, type Started } from './types.ts'
import { REPO_ROOT } from '../paths.ts'

/** Start bare aedes on an ephemeral port. */
export async function startAedes(connections: number, site: string): Promise<Started> {
  // stdin is a pipe we never close: if the bench dies, the broker sees EOF and exits.
  const proc = new BoundedProcess(process.execPath, ['--import', 'tsx', 'test/bench/bare-aedes.ts'], { lifetimeS: 3600, cwd: REPO_ROOT, stdin: 'pipe' })
  try {
    const port = await proc.waitForLine((line) => {
      try {
        const v = JSON.parse(line) as { port?: unknown }
        return typeof v.port === 'number' ? v.port : undefined
      } catch {
        return undefined
      }
    }, 30_000)
    return {
      ok: true,
      target: {
        name: 'aedes',
        label: `bare aedes ${aedesVersion()}`,
        port,
        pid: proc.pid(),
        site,
        devices: anonymousDevices(connections),
        counters: async () => null,
        stop: () => proc.stop(),
      },
    }
  } catch (err) {
    await proc.stop()
    return { ok: false, reason: `bare aedes did not start: ${(err as Error).message}` }
  }
}

function aedesVersion(): string {
  // aedes' "exports" hide package.json from require.resolve; read it from node_modules.
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/aedes/package.json'), 'utf8')) as { version: string }).version
  } catch {
    return '(version unknown)'
  }
}
