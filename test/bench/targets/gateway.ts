/**
 * Target (c): the Stockyard gateway, through its CLI only:
 *   stockyard devices add --data DIR --id ID --kind env --site S --zone Z   -> {"id","username","password"}
 *   stockyard tokens add --data DIR --role viewer --name bench              -> {"token"} (optional: /metrics)
 *   stockyard hash-secret --secret S                                        -> {"passwordHash"} (internal clients)
 *   stockyard start --data DIR --config FILE --site S --mqtt-port 0 --ws-port 0 --http-port 0 --log-level info
 *     -> a pino line {"msg":"stockyard ready","ports":{"mqtt":N,"ws":N,"http":N}}; SIGTERM stops it.
 * Every bench gateway gets a rules directory of its own (`rules.dir` in FILE): an empty one unless a
 * scenario brings a pack, so the figures never depend on what is in the repository's rules/.
 * Anything missing or failing makes the target "unavailable" with the reason; the bench carries on.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { DeviceIdentity } from '../../../simulators/loadgen/types.ts'
import { REPO_ROOT } from '../paths.ts'
import { BoundedProcess } from '../proc.ts'
import { emptyRulesDir } from '../rule-pack.ts'
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

/** What a data dir was provisioned with: the generator's devices, any others (probes) and a /metrics token. */
export interface Provisioned {
  devices: DeviceIdentity[]
  extra: DeviceIdentity[]
  token: string | null
}

/**
 * Register `n` generator devices (`bench-dev-i`, zone `zones[i % zones.length]`) and the `extra` ones
 * in `dataDir`, and create a viewer token. On failure the data dir is removed.
 */
export async function provisionGateway(
  dataDir: string,
  site: string,
  n: number,
  opts: { zones?: readonly string[]; extra?: ReadonlyArray<{ id: string; zone: string }> } = {},
): Promise<{ ok: true; provisioned: Provisioned } | { ok: false; reason: string }> {
  if (!existsSync(join(REPO_ROOT, 'gateway/cli/main.ts'))) return { ok: false, reason: 'gateway unavailable (gateway/cli/main.ts not written yet)' }
  const zones = opts.zones?.length ? opts.zones : ['z1']
  const add = async (id: string, zone: string): Promise<DeviceIdentity> => {
    const c = await cli<DeviceIdentity>(['devices', 'add', '--data', dataDir, '--id', id, '--kind', 'env', '--site', site, '--zone', zone])
    if (typeof c.id !== 'string' || typeof c.username !== 'string' || typeof c.password !== 'string') throw new Error(`unexpected output ${JSON.stringify(c)}`)
    return { id: c.id, username: c.username, password: c.password }
  }
  const devices: DeviceIdentity[] = []
  const extra: DeviceIdentity[] = []
  try {
    for (let i = 0; i < n; i++) devices.push(await add(`bench-dev-${i}`, zones[i % zones.length]!))
    for (const e of opts.extra ?? []) extra.push(await add(e.id, e.zone))
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true })
    return { ok: false, reason: `gateway unavailable (devices add failed: ${firstLine(err)})` }
  }
  const token = await cli<{ token?: string }>(['tokens', 'add', '--data', dataDir, '--role', 'viewer', '--name', 'bench']).then(
    (t) => t.token ?? null,
    () => null,
  )
  return { ok: true, provisioned: { devices, extra, token } }
}

/** The scrypt hash of an internal client's password, for `mqtt.internalClients` (via `stockyard hash-secret`). */
export async function hashSecret(secret: string): Promise<string> {
  // `--secret=S`: a random secret may start with '-', which `--secret S` would take for a flag.
  const r = await cli<{ passwordHash?: string }>(['hash-secret', `--secret=${secret}`])
  if (typeof r.passwordHash !== 'string') throw new Error(`hash-secret printed ${JSON.stringify(r)}`)
  return r.passwordHash
}

export interface LaunchOptions {
  /** `rules.dir`; removed on stop. Default: a fresh empty directory. */
  rulesDir?: string
  /** More config (e.g. `mqtt.internalClients`), merged under the bench's own keys. */
  config?: { mqtt?: Record<string, unknown> } & Record<string, unknown>
  label?: string
  /** Node flags for the gateway process, e.g. `['--cpu-prof', '--cpu-prof-dir', DIR]` to profile it (every thread). */
  nodeArgs?: string[]
}

/** Start the gateway on ephemeral ports in a provisioned `dataDir`; `stop()` removes the data and rules dirs. */
export async function launchGateway(dataDir: string, site: string, p: Provisioned, opts: LaunchOptions = {}): Promise<Started> {
  const rulesDir = opts.rulesDir ?? emptyRulesDir()
  const configFile = join(dataDir, 'bench-config.json')
  writeFileSync(configFile, JSON.stringify({ ...opts.config, rules: { dir: rulesDir } }, null, 2))
  const args = [
    ...(opts.nodeArgs ?? []),
    CLI,
    'start',
    '--data',
    dataDir,
    '--config',
    configFile,
    '--site',
    site,
    '--mqtt-port',
    '0',
    '--ws-port',
    '0',
    '--http-port',
    '0',
    '--log-level',
    'info',
  ]
  const proc = new BoundedProcess(process.execPath, args, { lifetimeS: 3600, cwd: REPO_ROOT })
  const stop = async (): Promise<void> => {
    await proc.stop(15_000)
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(rulesDir, { recursive: true, force: true })
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
        label: opts.label ?? 'stockyard gateway',
        port: ports.mqtt,
        pid: proc.pid(),
        site,
        devices: p.devices,
        http: { port: ports.http, token: p.token },
        counters: () => scrape(ports.http, p.token),
        stop,
      },
    }
  } catch (err) {
    await stop()
    return { ok: false, reason: `gateway unavailable (start: ${firstLine(err)})` }
  }
}

/** Provision `n` devices, then start the gateway with no rules on ephemeral ports in `dataDir` (removed on stop). */
export async function startGateway(n: number, site: string, dataDir: string): Promise<Started> {
  const p = await provisionGateway(dataDir, site, n)
  return p.ok ? launchGateway(dataDir, site, p.provisioned) : p
}

/** Rule gauges carry one series per rule; the report wants their sums. */
const SUMMED = new Set(['stockyard_rule_evaluations', 'stockyard_rule_errors', 'stockyard_rule_late_points'])

/** Totals from /metrics: accepted messages, rejections by reason, rule evaluations (null when /metrics is not reachable). */
async function scrape(httpPort: number, token: string | null): Promise<Record<string, number> | null> {
  if (!httpPort || !token) return null
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(3000) })
    if (!res.ok) return null
    const out: Record<string, number> = {}
    for (const line of (await res.text()).split('\n')) {
      const m =
        /^(stockyard_ingest_messages_total|stockyard_rejections_total|stockyard_store_errors_total|stockyard_rule_evaluations|stockyard_rule_errors|stockyard_rule_late_points|stockyard_alert_changes_total)(\{[^}]*\})? (\S+)$/.exec(
          line,
        )
      if (!m) continue
      const key = SUMMED.has(m[1]!) ? m[1]! : `${m[1]}${m[2] ?? ''}`
      out[key] = (out[key] ?? 0) + Number(m[3])
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
