/**
 * Target (b): mosquitto, when /usr/sbin/mosquitto exists. Temp config, anonymous, no persistence,
 * TCP_NODELAY on (as for bare aedes; mosquitto's default is off), on an explicit free port
 * (mosquitto cannot report an ephemeral one).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BoundedProcess, freePort, waitForPort } from '../proc.ts'
import { anonymousDevices, type Started } from './types.ts'

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto'

/** Start mosquitto on 127.0.0.1 with a throw-away config. */
export async function startMosquitto(connections: number, site: string): Promise<Started> {
  if (!existsSync(MOSQUITTO_BIN)) return { ok: false, reason: `${MOSQUITTO_BIN} not installed` }
  const dir = mkdtempSync(join(tmpdir(), 'stockyard-bench-mosquitto-'))
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'set_tcp_nodelay true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  )
  const proc = new BoundedProcess(MOSQUITTO_BIN, ['-c', conf], { lifetimeS: 3600 })
  const cleanup = async (): Promise<void> => {
    await proc.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await Promise.race([waitForPort(port, 10_000), proc.exited.then(({ code }) => Promise.reject(new Error(`exited with ${code}: ${proc.tail(5)}`)))])
    return {
      ok: true,
      target: {
        name: 'mosquitto',
        label: `mosquitto ${mosquittoVersion()}`,
        port,
        pid: proc.pid(),
        site,
        devices: anonymousDevices(connections),
        counters: async () => null,
        stop: cleanup,
      },
    }
  } catch (err) {
    await cleanup()
    return { ok: false, reason: `mosquitto did not start: ${(err as Error).message}` }
  }
}

function mosquittoVersion(): string {
  // `mosquitto -h` prints "mosquitto version X" (and exits non-zero).
  const r = spawnSync(MOSQUITTO_BIN, ['-h'], { encoding: 'utf8', timeout: 5000 })
  return /version (\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? '(version unknown)'
}
