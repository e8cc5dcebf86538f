/**
 * Target (c): the Stockyard gateway, through its CLI only:
 *   stockyard devices add --data DIR --id ID --kind env --site S --zone z1   -> {"id","username","password"}
 *   stockyard tokens add --data DIR --role viewer --name bench              -> {"token"} (optional: /metrics)
 *   stockyard start --data DIR --site S --mqtt-port 0 --ws-port 0 --http-port 0 --log-level info
 *     -> a pino line {"msg":"stockyard ready","ports":{"mqtt":N,"ws":N,"http":N}}; SIGTERM stops it.
 * Anything missing or failing makes the target "unavailable" with the reason; the bench carries on.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { DeviceIdentity } from '../../../simulators/loadgen/types.ts'
import { REPO_ROOT } from '../paths.ts'
import { BoundedProcess } from '../proc.ts'
import type { Started } from './types.ts'

const run = promisify(execFile)
const CLI = 'bin/stockyard.mjs'

/** A fresh data dir for a gateway (or pass your own, e.g. a seeded one). */
export function gatewayDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'stockyard-bench-gw-'))
}

/** Run one CLI command and parse the JSON it prints. */
async function cli<T>(args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, timeout: 60_000, maxBuffer: 1 << 20 })
  const text = stdout.trim()
  // The whole output is the JSON document; tolerate stray lines before it.
  return JSON.parse(text.startsWith('{') || text.startsWith('[') ? text : text.slice(text.lastIndexOf('\n{') + 1)) as T
}

/** Provision `n` devices, then start the gateway on ephemeral ports in `dataDir` (removed on stop). */
export async function startGateway(n: number, site: string, dataDir: string): Promise<Started> {
  if (!existsSync(join(REPO_ROOT, 'gateway/cli/main.ts'))) return { ok: false, reason: 'gateway unavailable (gateway/cli/main.ts not written yet)' }
  const devices: DeviceIdentity[] = []
  try {
    for (let i = 0; i < n; i++) {
      const c = await cli<DeviceIdentity>(['devices', 'add', '--data', dataDir, '--id', `bench-dev-${i}`, '--kind', 'env', '--site', site, '--zone', 'z1'])
      if (typeof c.id !== 'string' || typeof c.username !== 'string' || typeof c.password !== 'string')
        throw new Error(`unexpected output ${JSON.stringify(c)}`)
      devices.push({ id: c.id, username: c.username, password: c.password })
    }
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true })
    return { ok: false, reason: `gateway unavailable (devices add failed: ${firstLine(err)})` }
  }
  const token = await cli<{ token?: string }>(['tokens', 'add', '--data', dataDir, '--role', 'viewer', '--name', 'bench']).then(
    (t) => t.token ?? null,
    () => null,
  )

  const args = [CLI, 'start', '--data', dataDir, '--site', site, '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0', '--log-level', 'info']
  const proc = new BoundedProcess(process.execPath, args, { lifetimeS: 3600, cwd: REPO_ROOT })
  const stop = async (): Promise<void> => {
    await proc.stop(15_000)
    rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    const ports = await proc.waitForLine((line) => {
      if (!line.includes('stockyard ready')) return undefined
      const v = JSON.parse(line) as { msg?: string; ports?: { mqtt?: number; http?: number } }
      return v.msg === 'stockyard ready' && typeof v.ports?.mqtt === 'number' ? { mqtt: v.ports.mqtt, http: v.ports.http ?? 0 } : undefined
    }, 60_000)
    return {
      ok: true,
      target: {
        name: 'gateway',
        label: 'stockyard gateway',
        port: ports.mqtt,
        pid: proc.pid(),
        site,
        devices,
        counters: () => scrape(ports.http, token),
        stop,
      },
    }
  } catch (err) {
    await stop()
    return { ok: false, reason: `gateway unavailable (start: ${firstLine(err)})` }
  }
}

/** Totals from /metrics: accepted messages and rejections by reason (null when /metrics is not reachable). */
async function scrape(httpPort: number, token: string | null): Promise<Record<string, number> | null> {
  if (!httpPort || !token) return null
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(3000) })
    if (!res.ok) return null
    const out: Record<string, number> = {}
    for (const line of (await res.text()).split('\n')) {
      const m = /^(stockyard_ingest_messages_total|stockyard_rejections_total|stockyard_store_errors_total)(\{[^}]*\})? (\S+)$/.exec(line)
      if (m) out[`${m[1]}${m[2] ?? ''}`] = Number(m[3])
    }
    return out
  } catch {
    return null
  }
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string }
  return (e.stderr?.trim() || e.message || String(err)).split('\n')[0]!.slice(0, 300)
}
