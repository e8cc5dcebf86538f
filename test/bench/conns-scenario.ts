/**
 * Many concurrent device connections with heartbeats (issue 4: "10,000 connected devices in
 * <= 300 MB RSS"). Per run a fresh broker: the gateway (every device with credentials of its own),
 * then bare aedes and mosquitto (anonymous) for scale. The generator (loadgen/heartbeat.ts, one
 * process) connects every device at a bounded concurrency, then each sends a QoS 1 `status` every
 * `intervalMs`. Figures: connect time, RSS while all are connected and heartbeating, heartbeat ack
 * latency; and the gateway's RSS peak and event-loop lag over the whole run.
 *
 * Provisioning (bench-only): 10,000 devices through `stockyard devices add` cost 10,000 scrypt
 * hashes at the default cost (N = 2^14, ~30 ms each here), and as many verifications at connect:
 * minutes of CPU on 2 cores. So the devices are written straight into the store's `devices` table
 * (the same columns `SqliteDeviceRegistry.add` writes; opened with `openSqliteStore`, so the schema
 * is the gateway's), each with a random password of its own hashed with scrypt at N = 2^8. The hash
 * format records N (`scrypt$256$8$1$…`) and `verifySecret` honours it, so the gateway checks every
 * CONNECT exactly as in production, only cheaper. The report says so, and gives what the default
 * cost would add, measured here.
 */
import { randomBytes, scrypt, scryptSync, type ScryptOptions } from 'node:crypto'
import { cpSync, readFileSync, rmSync } from 'node:fs'
import { runHeartbeatsInChild } from '../../simulators/loadgen/fork.ts'
import type { DeviceIdentity, HeartbeatResult } from '../../simulators/loadgen/types.ts'
import { openSqliteStore } from '../../gateway/store/sqlite/index.ts'
import { monitor, type Vitals } from './monitor.ts'
import { procRssMb, sampleProcess, type ProcessSample } from './proc.ts'
import { COLUMNS, num, table, type Row } from './report.ts'
import { spread, type Spread } from './scenarios.ts'
import { startAedes } from './targets/aedes.ts'
import { gatewayDataDir, launchGateway, type Provisioned } from './targets/gateway.ts'
import { startMosquitto } from './targets/mosquitto.ts'
import type { Started, Target, TargetName } from './targets/types.ts'

export interface ConnsBenchConfig {
  devices: number
  intervalMs: number
  /** Heartbeats are sent this long once every device is connected. */
  durationMs: number
  runs: number
  /** Run bare aedes and mosquitto too. */
  baselines: boolean
  targets: ReadonlySet<TargetName>
}

/** The bench-only scrypt cost of the provisioned devices (the gateway's default is 2^14). */
export const BENCH_SCRYPT = { N: 256, r: 8, p: 1 }
const DEFAULT_SCRYPT = { N: 16_384, r: 8, p: 1 }
export const RSS_TARGET_MB = 300

export interface ConnRun {
  hb: HeartbeatResult
  /** Broker RSS over the heartbeat phase (every device connected): peak, and at its end. */
  rssHeartbeatPeakMb: number
  rssHeartbeatEndMb: number
  /** Broker CPU over the heartbeat phase. */
  cpuCores: number
  /** RSS peak and event-loop lag over the whole run (connect storm included). */
  vitals: Vitals
}

export interface ConnsFigures {
  /** Devices asked for, and what the fd limits allowed. */
  asked: number
  devices: number
  runs: Partial<Record<TargetName, ConnRun[]>>
  labels: Partial<Record<TargetName, string>>
  provisionMs: number | null
  /** One scrypt verification at the bench cost and at the default cost, ms (this machine, one thread). */
  scryptMs: { bench: number; default: number }
  notes: string[]
}

/** Run the scenario; every broker it starts is stopped before it returns. */
export async function connsBench(
  cc: ConnsBenchConfig,
  site: string,
  log: (s: string) => void,
  track: { add(t: Target): void; delete(t: Target): void },
): Promise<ConnsFigures> {
  const f: ConnsFigures = { asked: cc.devices, devices: cc.devices, runs: {}, labels: {}, provisionMs: null, scryptMs: scryptCosts(), notes: [] }
  const limit = openFilesLimit()
  // The generator holds one fd per device, and so does the broker; both inherit our limit.
  if (limit !== null && cc.devices + 200 > limit) {
    f.devices = Math.max(1, limit - 200)
    f.notes.push(`open-files limit (ulimit -n) is ${limit}: ${f.devices.toLocaleString('en-US')} devices instead of ${cc.devices.toLocaleString('en-US')}`)
    log(`conns: ${f.notes.at(-1)}`)
  }

  const each = async (name: TargetName, start: () => Promise<Started>): Promise<void> => {
    for (let i = 0; i < cc.runs; i++) {
      const s = await start()
      if (!s.ok) {
        f.notes.push(`${name}: ${s.reason}`)
        log(`conns: ${name}: ${s.reason}`)
        return
      }
      const t = s.target
      f.labels[name] = t.label
      track.add(t)
      try {
        const run = await oneRun(t, cc, i)
        ;(f.runs[name] ??= []).push(run)
        const h = run.hb
        log(
          `  ${t.label}, run ${i + 1}/${cc.runs}: ${h.connected}/${h.devices} connected in ${(h.connectMs / 1000).toFixed(1)} s (connect p99 ${h.connectLatencyMs.p99.toFixed(0)} ms)` +
            `${h.failed ? `, ${h.failed} failed (${h.firstError})` : ''}; RSS heartbeating ${num(run.rssHeartbeatPeakMb, 0)} MiB, peak ${num(run.vitals.rssPeakMb, 0)} MiB; ` +
            `heartbeats ${h.acked}/${h.sent} acked, p99 ${h.latencyMs.p99.toFixed(2)} ms, max ${h.latencyMs.max.toFixed(1)} ms; broker ${run.cpuCores.toFixed(2)} cores, generator ${h.cpuCores.toFixed(2)}` +
            (run.vitals.lagMaxMs !== null ? `; event-loop lag p99 ${run.vitals.lagP99Ms!.toFixed(1)} ms, max ${run.vitals.lagMaxMs.toFixed(1)} ms` : ''),
        )
      } catch (err) {
        f.notes.push(`${t.label}: run ${i + 1} failed: ${(err as Error).message.split('\n')[0]}`)
        log(`conns: ${t.label}: ${(err as Error).message}`)
      } finally {
        await t.stop()
        track.delete(t)
      }
    }
  }

  if (cc.targets.has('gateway')) {
    const template = gatewayDataDir()
    try {
      log(`conns: provisioning ${f.devices.toLocaleString('en-US')} devices (scrypt N=${BENCH_SCRYPT.N}, bench-only) in ${template}`)
      const t0 = Date.now()
      const p = await provisionMany(template, site, f.devices)
      f.provisionMs = Date.now() - t0
      log(`  provisioned in ${(f.provisionMs / 1000).toFixed(1)} s`)
      await each('gateway', async () => {
        const dir = gatewayDataDir()
        cpSync(template, dir, { recursive: true })
        return launchGateway(dir, site, p, { label: 'stockyard gateway' })
      })
    } catch (err) {
      f.notes.push(`gateway: ${(err as Error).message.split('\n')[0]}`)
      log(`conns: gateway: ${(err as Error).message}`)
    } finally {
      rmSync(template, { recursive: true, force: true })
    }
  }
  if (cc.baselines && cc.targets.has('aedes')) await each('aedes', () => startAedes(f.devices, site))
  if (cc.baselines && cc.targets.has('mosquitto')) await each('mosquitto', () => startMosquitto(f.devices, site))
  return f
}

async function oneRun(t: Target, cc: ConnsBenchConfig, i: number): Promise<ConnRun> {
  const whole = monitor(t)
  let phase: { stop(): ProcessSample } | null = null
  let hbSample: ProcessSample = { rssPeakMb: 0, cpuCores: 0, machineCores: 0 }
  let rssEnd = 0
  try {
    const hb = await runHeartbeatsInChild(
      {
        host: '127.0.0.1',
        port: t.port,
        site: t.site,
        devices: t.devices,
        intervalMs: cc.intervalMs,
        durationMs: cc.durationMs,
        seqStart: 1 + i * 1_000_000,
      },
      {
        onStart: () => (phase = sampleProcess(t.pid)),
        onSendEnd: () => {
          if (!phase) return
          hbSample = phase.stop()
          rssEnd = procRssMb(t.pid) ?? 0
          phase = null
        },
      },
    )
    return { hb, rssHeartbeatPeakMb: hbSample.rssPeakMb, rssHeartbeatEndMb: rssEnd, cpuCores: hbSample.cpuCores, vitals: await whole.stop() }
  } catch (err) {
    ;(phase as { stop(): ProcessSample } | null)?.stop()
    await whole.stop()
    throw err
  }
}

/**
 * Write `n` devices (`bench-dev-i`, kind env, zone z1) with random passwords of their own, scrypt
 * at BENCH_SCRYPT cost, and a viewer token, through the store the gateway will open.
 */
export async function provisionMany(dataDir: string, site: string, n: number): Promise<Provisioned> {
  const devices: DeviceIdentity[] = Array.from({ length: n }, (_, i) => ({
    id: `bench-dev-${i}`,
    username: `bench-dev-${i}`,
    password: randomBytes(18).toString('base64url'),
  }))
  const hashes: string[] = new Array(n)
  // Four at a time: libuv's default pool, which is what runs scrypt.
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      const k = next++
      hashes[k] = await scryptHash(devices[k]!.password, BENCH_SCRYPT)
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  const store = openSqliteStore({ dataDir, synchronous: 'NORMAL' })
  try {
    // The columns SqliteDeviceRegistry.add writes (gateway/store/sqlite/devices.ts).
    const insert = store.db.prepare('INSERT INTO devices (id, kind, site, zone, username, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    const now = Date.now()
    store.db.transaction(() => devices.forEach((d, k) => insert.run(d.id, 'env', site, 'z1', d.username, hashes[k], now)))()
    const token = store.tokens.add('viewer', 'bench').token
    return { devices, extra: [], token }
  } finally {
    store.close()
  }
}

/** `scrypt$N$r$p$salt$hash`, the format of gateway/auth/secrets.ts, at the given cost. */
function scryptHash(secret: string, cost: { N: number; r: number; p: number }): Promise<string> {
  const salt = randomBytes(16)
  const opts: ScryptOptions = { ...cost, maxmem: 64 * 1024 * 1024 }
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, 32, opts, (err, key) =>
      err ? reject(err) : resolve(`scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`),
    ),
  )
}

/** Time one scrypt at each cost (median of a few), to say what the default cost would add. */
function scryptCosts(): { bench: number; default: number } {
  const time = (cost: { N: number; r: number; p: number }, n: number): number => {
    const xs: number[] = []
    for (let i = 0; i < n; i++) {
      const t = performance.now()
      scryptSync('bench', randomBytes(16), 32, { ...cost, maxmem: 64 * 1024 * 1024 })
      xs.push(performance.now() - t)
    }
    return spread(xs).median
  }
  return { bench: time(BENCH_SCRYPT, 21), default: time(DEFAULT_SCRYPT, 5) }
}

/** The soft `Max open files` limit of this process (inherited by every child), or null if unknown. */
function openFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** The connections table, with ratios to the baselines, and the target verdict. */
export function renderConns(f: ConnsFigures, cc: ConnsBenchConfig): string[] {
  const have = COLUMNS.filter((c) => f.runs[c]?.length)
  const s = (c: TargetName, pick: (r: ConnRun) => number): Spread => spread(f.runs[c]!.map(pick))
  const row = (figure: string, pick: (r: ConnRun) => number, digits: number): Row => {
    const values: Partial<Record<TargetName, number>> = {}
    const cells: Partial<Record<TargetName, string>> = {}
    for (const c of have) {
      const x = s(c, pick)
      values[c] = x.median
      cells[c] = x.runs > 1 ? `${num(x.median, digits)} (${num(x.min, digits)}–${num(x.max, digits)})` : num(x.median, digits)
    }
    return { figure, values, cells, digits }
  }
  const n = Math.max(0, ...have.map((c) => f.runs[c]!.length))
  const labels = Object.fromEntries(COLUMNS.map((c) => [c, f.labels[c] ?? c])) as Record<TargetName, string>
  const lines = [
    `Concurrent connections (\`conns\`): ${f.devices.toLocaleString('en-US')} devices, one MQTT connection each (own client id; on the gateway own username and password), ` +
      `connected by one generator process at most 100 CONNECTs at a time; then each sends a QoS 1 \`status\` (~125 B payload) every ${cc.intervalMs / 1000} s ` +
      `(${num((f.devices * 1000) / cc.intervalMs, 0)} msg/s in all) for ${cc.durationMs / 1000} s. A fresh broker per run. ${n > 1 ? `Median (min–max) of ${n} runs.` : '1 run.'}`,
    '',
  ]
  if (have.length) {
    lines.push(
      table(
        [
          row('Devices connected', (r) => r.hb.connected, 0),
          row('Connect time, all devices, s', (r) => r.hb.connectMs / 1000, 1),
          row('Connect latency p99 (TCP connect → CONNACK), ms', (r) => r.hb.connectLatencyMs.p99, 0),
          row('RSS while all connected and heartbeating (peak), MiB', (r) => r.rssHeartbeatPeakMb, 0),
          row('RSS peak over the run (connect storm included), MiB', (r) => r.vitals.rssPeakMb, 0),
          row('Heartbeat ack p50, ms', (r) => r.hb.latencyMs.p50, 2),
          row('Heartbeat ack p99, ms', (r) => r.hb.latencyMs.p99, 2),
          row('Heartbeat ack max, ms', (r) => r.hb.latencyMs.max, 1),
          row('Heartbeats acked', (r) => r.hb.acked, 0),
          row('Broker CPU while heartbeating, cores', (r) => r.cpuCores, 2),
          row('Generator CPU (connects + heartbeats), cores', (r) => r.hb.cpuCores, 2),
        ],
        labels,
      ),
      '',
    )
  }
  const gw = f.runs.gateway
  if (gw?.length) {
    const rss = spread(gw.map((r) => r.rssHeartbeatPeakMb))
    const mb = (rss.median * 2 ** 20) / 1e6
    const all = gw.every((r) => r.hb.connected === f.asked)
    lines.push(
      `- **Target: ${f.asked.toLocaleString('en-US')} connected devices in ≤ ${RSS_TARGET_MB} MB RSS: ${all && mb <= RSS_TARGET_MB ? 'PASS' : 'FAIL'}** — ` +
        `${num(mb, 0)} MB (${num(rss.median, 0)} MiB) with ${spread(gw.map((r) => r.hb.connected)).median.toLocaleString('en-US')} devices connected and heartbeating` +
        `${rss.runs > 1 ? ` (median of ${rss.runs} runs; worst ${num((rss.max * 2 ** 20) / 1e6, 0)} MB)` : ''}.`,
      `- Bench-only credentials: every device has a password of its own, hashed with scrypt at N = 2^${Math.log2(BENCH_SCRYPT.N)} (the hash records it; the gateway's default is 2^14), ` +
        `written through the store in ${f.provisionMs !== null ? `${(f.provisionMs / 1000).toFixed(1)} s` : '–'}. One verification costs ${f.scryptMs.bench.toFixed(2)} ms here at that cost and ` +
        `${f.scryptMs.default.toFixed(1)} ms at the default: at the default cost the first connect of ${f.devices.toLocaleString('en-US')} devices would need ~${num((f.devices * f.scryptMs.default) / 1000, 0)} s of CPU ` +
        `(~${num((f.devices * f.scryptMs.default) / 2000, 0)} s on both cores); later reconnects hit the gateway's in-memory cache of verified passwords.`,
    )
    const bad = gw.filter((r) => r.hb.failed || r.hb.dropped || r.hb.unacked || r.hb.skipped)
    for (const r of bad)
      lines.push(
        `- gateway: ${r.hb.failed} connects failed${r.hb.firstError ? ` (${r.hb.firstError})` : ''}, ${r.hb.dropped} dropped, ${r.hb.unacked} heartbeats unacked, ${r.hb.skipped} skipped`,
      )
  }
  for (const c of ['aedes', 'mosquitto'] as const) {
    for (const r of f.runs[c] ?? []) {
      if (r.hb.failed || r.hb.dropped || r.hb.unacked)
        lines.push(
          `- ${labels[c]}: ${r.hb.failed} connects failed${r.hb.firstError ? ` (${r.hb.firstError})` : ''}, ${r.hb.dropped} dropped, ${r.hb.unacked} unacked`,
        )
    }
  }
  return [...lines, ...f.notes.map((x) => `- ${x}`)]
}
