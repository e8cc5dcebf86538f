/**
 * The InfluxDB replication scenario of `npm run bench` (gateway/sink/, a real `influxd` 1.x on 127.0.0.1
 * through test/helpers/influxd.ts):
 *
 * 1. Drain throughput: a gateway with replication on starts while influxd is down (the replicator
 *    retries, backoff capped at 500 ms); the generator publishes a backlog at a fixed rate; then influxd
 *    starts and the bench times the drain until the points lane's cursor reaches the head: from
 *    /api/v1/status polled every 100 ms (the worker refreshes it once a second) and, to the ms, from
 *    the cursor row itself (`sink_cursor.updated_at`, read through a read-only connection).
 * 2. Lag at a steady rate (10,000 msg/s) on the same gateway, influxd up: `lagSeconds` / `lagRows` of
 *    the points lane sampled from /api/v1/status; p50 / p99 / max.
 * 3. Ingest cost: two gateways from one provisioned data dir, replication on (to influxd) and off, the
 *    max-ingest method of scenarios.ts, runs interleaved (A B B A …); after each run with replication
 *    on the bench waits until it has caught up, so influxd and the replicator never load the next run.
 *
 * After phases 2 and 3, InfluxDB's `count(*)` is checked against the store. InfluxDB keeps one point
 * per (series, timestamp), and the generator stamps a chunk of messages per device with one `ts`, so
 * the check compares, per metric, the store's distinct (series, ts) with InfluxDB's count of that
 * field; also the cursor = the head, none refused. A mismatch sets
 * `failed` (the bench exits non-zero). influxd and every gateway are stopped whatever fails.
 */
import Database from 'better-sqlite3'
import { execFile, execFileSync } from 'node:child_process'
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { basename, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { requireBinary, startInfluxd, type Influxd } from '../helpers/influxd.ts'
import { monitor, type Vitals } from './monitor.ts'
import { sampleProcess, type ProcessSample } from './proc.ts'
import { num } from './report.ts'
import { centre } from './rules-scenario.ts'
import { fmtRate, measure, WARMUP_MS, type BenchConfig, type RunFigures } from './scenarios.ts'
import { gatewayDataDir, launchGateway, provisionGateway } from './targets/gateway.ts'
import type { Started, Target } from './targets/types.ts'

export interface InfluxBenchConfig {
  /** Messages (2 points each) published while influxd is down. */
  backlogMsgs: number
  /** The backlog's fixed rate, msg/s. */
  backlogRate: number
  /** The steady rate of the lag run, msg/s, and its length. */
  lagRate: number
  lagMs: number
  /** Status sampling period during the lag run. */
  sampleMs: number
  /** Max-ingest runs per gateway (interleaved). */
  ratioRuns: number
}

export const INFLUX_TARGETS = { lagSeconds: 5, ratio: 0.9 }

/** The store's file in a data dir (gateway/store/sqlite/index.ts). */
const STORE_FILE = 'stockyard.db'
/** Messages per `ts` stamp in the backlog and lag runs (the rules scenario's background does the same). */
const CHUNK = 16
/** Gateway settings under test: the defaults, but retries capped at 500 ms so the drain starts promptly. */
const RETRY = { retryBaseMs: 100, retryMaxMs: 500 }
const DRAIN_DEADLINE_MS = 180_000
/** The bench's own lag sampling of the store during the lag run. */
const STORE_SAMPLE_MS = 50

interface LaneStatus {
  cursor: number
  head: number
  lagRows: number
  lagSeconds: number
  sentLines: number
  rejectedLines: number
  failedAttempts: number
  lastError: string | null
}

export interface DrainFigures {
  points: number
  /** Achieved publish rate of the backlog, msg/s. */
  backlogRate: number
  /** Replication while influxd was down: failed attempts and the last reason. */
  failedBefore: number
  errorBefore: string | null
  /** `lagSeconds` in /api/v1/status just before influxd started, and the time since the backlog's first message (what it should about be). */
  lagBeforeS: number | null
  backlogAgeS: number
  /** influxd answering /ping -> cursor at the head, from the cursor row's own timestamp. */
  drainMs: number
  /** The same, as seen by polling /api/v1/status every 100 ms (lagRows = 0; 1-s snapshots). */
  statusDrainMs: number | null
  /** influxd ready -> the first cursor move the bench saw (its updated_at), and the rows it covered. */
  firstAckMs: number
  firstAckRows: number
  /** Over the drain: lines influxd accepted, write requests, the time it spent in them (summed over concurrent requests). */
  influxPoints: number
  influxWriteReqs: number
  influxWriteMs: number
  gateway: ProcessSample
  influxd: ProcessSample | null
  /** The gateway's busiest threads over the drain (name from /proc, cores). */
  threads: Array<{ name: string; cores: number }>
}

interface Pcts {
  p50: number
  p99: number
  max: number
}

export interface LagFigures {
  run: RunFigures
  /** Distinct status snapshots seen during the run. */
  samples: number
  /** As /api/v1/status reports them (the worker's snapshot, once a second). */
  lagSeconds: Pcts
  lagRows: Pcts
  /**
   * The bench's own reading of the store every STORE_SAMPLE_MS: rows = head - cursor; seconds = now - when
   * the sampler first saw the row after the cursor (so up to one period short).
   */
  store: { samples: number; lagSeconds: Pcts; lagRows: Pcts }
  /** influxd's write requests during the run and the lines they carried. */
  writeReqs: number
  writeLines: number
  /** End of sending -> cursor at the head. */
  catchUpMs: number | null
}

export interface Verification {
  phase: string
  ok: boolean
  detail: string
}

export interface InfluxFigures {
  /** Set when the scenario did not run (e.g. influxd missing). */
  skipped: string | null
  influxdLabel: string
  drain: DrainFigures | null
  lag: LagFigures | null
  on: RunFigures[]
  off: RunFigures[]
  ratio: number | null
  /** After each max-ingest run with replication on: rows behind when the generator returned, and sending stopped -> cursor at the head. */
  onBehind: Array<{ rows: number; catchUpMs: number | null }>
  /** influxd's CPU during each run with replication on. */
  influxdCores: number[]
  verifications: Verification[]
  vitals: Array<{ scenario: string; vitals: Vitals }>
  notes: string[]
  /** Reasons the bench must fail (a count mismatch): not just a missed target. */
  failed: string[]
}

const pExec = promisify(execFile)

/**
 * Run the scenario. `track` is told of every running gateway (for the bench's signal handler).
 * Throws only when influxd is missing under CI=true.
 * @example const f = await influxBench(cfg, { backlogMsgs: 150_000, backlogRate: 50_000, lagRate: 10_000, lagMs: 10_000, sampleMs: 250, ratioRuns: 1 }, 'bench', log, tracked)
 */
export async function influxBench(
  cfg: BenchConfig,
  ic: InfluxBenchConfig,
  site: string,
  log: (s: string) => void,
  track: { add(t: Target): void; delete(t: Target): void },
): Promise<InfluxFigures> {
  const f: InfluxFigures = {
    skipped: null,
    influxdLabel: 'influxd',
    drain: null,
    lag: null,
    on: [],
    off: [],
    ratio: null,
    onBehind: [],
    influxdCores: [],
    verifications: [],
    vitals: [],
    notes: [],
    failed: [],
  }
  if (!requireBinary('influxd')) {
    f.skipped = 'skipped: influxd not installed'
    log(`influx: ${f.skipped}`)
    return f
  }
  f.influxdLabel = await pExec('influxd', ['version'], { timeout: 10_000 }).then(
    (r) =>
      r.stdout
        .trim()
        .replace(/^InfluxDB v?/, 'influxd ')
        .replace(/ \(.*$/, ''),
    () => 'influxd',
  )

  const started: Target[] = []
  const launch = async (what: string, start: () => Promise<Started>): Promise<Target | null> => {
    const s = await start()
    if (!s.ok) {
      log(`influx: ${what}: ${s.reason}`)
      f.notes.push(`${what}: ${s.reason}`)
      return null
    }
    started.push(s.target)
    track.add(s.target)
    return s.target
  }
  const stop = async (t: Target): Promise<void> => {
    const i = started.indexOf(t)
    if (i >= 0) started.splice(i, 1)
    await t.stop()
    track.delete(t)
  }

  const dirs = { repl: gatewayDataDir(), on: gatewayDataDir(), off: gatewayDataDir() }
  let influx: Influxd | null = null
  const readers: Database.Database[] = []
  try {
    log(`influx: provisioning ${cfg.connections} devices; starting ${f.influxdLabel}`)
    // influxd starts once, for its port and the databases, then stops: the first gateway starts against it down.
    const [provided, server] = await Promise.allSettled([provisionGateway(dirs.repl, site, cfg.connections), startInfluxd()])
    if (server.status === 'fulfilled') influx = server.value
    else throw server.reason
    if (provided.status === 'rejected') throw provided.reason
    const prov = provided.value
    if (!prov.ok) {
      f.notes.push(prov.reason)
      return f
    }
    if (!prov.provisioned.token) {
      f.notes.push('no viewer token (stockyard tokens add failed): /api/v1/status is needed')
      return f
    }
    for (const d of [dirs.on, dirs.off]) cpSync(dirs.repl, d, { recursive: true })
    for (const db of ['bench_drain', 'bench_ingest']) await influx.query(`CREATE DATABASE ${db}`)
    await influx.stop()
    const url = influx.url
    const replication = (database: string): Record<string, unknown> => ({ influx: { enabled: true, protocol: 'v1', url, database, ...RETRY } })

    // ---- 1. Drain throughput ------------------------------------------------------------------
    const repl = await launch('gateway, replication on', () =>
      launchGateway(dirs.repl, site, prov.provisioned, { config: replication('bench_drain'), label: 'gateway, replication on' }),
    )
    if (!repl) return f
    const store = openReader(dirs.repl, readers)
    const replVitals = monitor(repl)
    const backlogMs = Math.round((ic.backlogMsgs / ic.backlogRate) * 1000)
    log(`  influxd down; backlog: ${fmtRate(ic.backlogRate)} msg/s for ${backlogMs / 1000} s (2 points per message)`)
    let backlogStart = 0
    const backlog = await measure(repl, cfg, { kind: 'rate', msgPerSec: ic.backlogRate }, backlogMs, {
      chunkSize: CHUNK,
      onStart: () => (backlogStart = Date.now()),
    })
    const points = store.head()
    if (points === 0) throw new Error('the backlog stored no points')
    // The status snapshot is a second old at most: wait until it shows the whole backlog, still unsent.
    const before = await waitStatus(repl, (s) => s.head >= points, 5000)
    if (store.cursor().id !== 0) throw new Error(`the cursor moved while influxd was down (${store.cursor().id})`)
    log(
      `  backlog: ${points.toLocaleString('en-US')} points stored (${fmtRate(backlog.load.rate)} msg/s, ${backlog.load.unacked} unacked); ` +
        `replication: ${before?.failedAttempts ?? '?'} failed attempts, last error ${JSON.stringify(before?.lastError ?? null)}`,
    )
    const backlogAgeS = (Date.now() - backlogStart) / 1000
    await influx.start()
    const ready = Date.now()
    const influxPid = findInfluxdPid(influx.dataDir)
    const gwSample = sampleProcess(repl.pid)
    const ifSample = influxPid ? sampleProcess(influxPid) : null
    const threads0 = threadCpu(repl.pid)
    let first: { id: number; at: number } | null = null
    let statusDone: number | null = null
    let last = store.cursor()
    let cpu: { gw: ProcessSample; ifd: ProcessSample | null; threads: Array<{ name: string; cores: number }> } | null = null
    const deadline = ready + DRAIN_DEADLINE_MS
    // Until the cursor reaches the head (CPU sampled up to then) and /api/v1/status says so too.
    while (!cpu || statusDone === null) {
      if (Date.now() > deadline) throw new Error(`drain not done after ${DRAIN_DEADLINE_MS / 1000} s: cursor ${last.id} of ${points}`)
      await sleep(100)
      last = store.cursor()
      if (!first && last.id > 0) first = last
      if (!cpu && last.id >= points) {
        cpu = { gw: gwSample.stop(), ifd: ifSample?.stop() ?? null, threads: topThreads(threads0, threadCpu(repl.pid), (Date.now() - ready) / 1000) }
      }
      if (statusDone === null) {
        const s = await laneStatus(repl)
        if (s && s.lagRows === 0 && s.head >= points) statusDone = Date.now()
      }
    }
    const { gw, ifd, threads } = cpu
    const httpd = await influxHttpStats(influx)
    f.drain = {
      points,
      backlogRate: backlog.load.rate,
      failedBefore: before?.failedAttempts ?? 0,
      errorBefore: before?.lastError ?? null,
      lagBeforeS: before?.lagSeconds ?? null,
      backlogAgeS,
      drainMs: last.at - ready,
      statusDrainMs: statusDone - ready,
      firstAckMs: first!.at - ready,
      firstAckRows: first!.id,
      influxPoints: httpd.pointsWrittenOK,
      influxWriteReqs: httpd.writeReq,
      influxWriteMs: httpd.writeReqDurationNs / 1e6,
      gateway: gw,
      influxd: ifd,
      threads,
    }
    const d = f.drain
    log(
      `  drain: ${points.toLocaleString('en-US')} points in ${(d.drainMs / 1000).toFixed(2)} s = ${fmtRate(points / (d.drainMs / 1000))} points/s ` +
        `(status saw lagRows 0 after ${(d.statusDrainMs! / 1000).toFixed(1)} s; first ack ${d.firstAckMs} ms after influxd was ready); ` +
        `gateway ${gw.cpuCores.toFixed(2)} cores, influxd ${ifd ? ifd.cpuCores.toFixed(2) : '?'} cores; influxd in writes ${Math.round(d.influxWriteMs)} ms over ${d.influxWriteReqs} requests`,
    )
    f.verifications.push(await verify('after the drain', store, influx, 'bench_drain', repl))

    // ---- 2. Lag at a steady rate ----------------------------------------------------------------
    log(`  lag: ${fmtRate(ic.lagRate)} msg/s for ${ic.lagMs / 1000} s, influxd up`)
    const samples: Array<LaneStatus & { t: number }> = []
    const storeSamples: Array<{ rows: number; s: number }> = []
    // (time first seen, head then), oldest first; entries the cursor has passed are dropped.
    const heads: Array<{ t: number; head: number }> = []
    const readStore = (): void => {
      const t = Date.now()
      const head = store.head()
      const cur = store.cursor().id
      heads.push({ t, head })
      while (heads.length > 1 && heads[0]!.head <= cur) heads.shift()
      const firstAbove = heads[0]!.head > cur ? heads[0]! : null
      storeSamples.push({ rows: Math.max(0, head - cur), s: firstAbove ? (t - firstAbove.t) / 1000 : 0 })
    }
    let busy = false
    const readStatus = async (): Promise<void> => {
      if (busy) return
      busy = true
      try {
        const t = Date.now()
        const st = await laneStatus(repl)
        if (st) samples.push({ ...st, t })
      } finally {
        busy = false
      }
    }
    const timers: NodeJS.Timeout[] = []
    const httpdBefore = await influxHttpStats(influx)
    let lagRun: RunFigures
    let lagStart = Date.now()
    try {
      lagRun = await measure(repl, cfg, { kind: 'rate', msgPerSec: ic.lagRate }, ic.lagMs, {
        chunkSize: CHUNK,
        onStart: () => {
          lagStart = Date.now()
          timers.push(setInterval(readStore, STORE_SAMPLE_MS))
          timers.push(setInterval(() => void readStatus(), ic.sampleMs))
        },
      })
    } finally {
      for (const t of timers) clearInterval(t)
    }
    const loadEnd = lagStart + ic.lagMs // the generator stops sending then
    const caught = await waitCaughtUp(store, 60_000)
    const httpdAfter = await influxHttpStats(influx)
    // One status snapshot per second: samples taken between two refreshes repeat it.
    const distinct = samples.filter((x, i) => i === 0 || x.cursor !== samples[i - 1]!.cursor || x.head !== samples[i - 1]!.head)
    f.lag = {
      run: lagRun,
      samples: distinct.length,
      lagSeconds: pcts(distinct.map((x) => x.lagSeconds)),
      lagRows: pcts(distinct.map((x) => x.lagRows)),
      store: { samples: storeSamples.length, lagSeconds: pcts(storeSamples.map((x) => x.s)), lagRows: pcts(storeSamples.map((x) => x.rows)) },
      writeReqs: httpdAfter.writeReq - httpdBefore.writeReq,
      writeLines: httpdAfter.pointsWrittenOK - httpdBefore.pointsWrittenOK,
      catchUpMs: caught === null ? null : Math.max(0, caught - loadEnd),
    }
    const l = f.lag
    log(
      `  lag @ ${fmtRate(lagRun.load.rate)} msg/s (status): p50 ${l.lagSeconds.p50.toFixed(2)} s, p99 ${l.lagSeconds.p99.toFixed(2)} s, max ${l.lagSeconds.max.toFixed(2)} s, ` +
        `rows p50 ${fmtRate(l.lagRows.p50)} max ${fmtRate(l.lagRows.max)} over ${l.samples} snapshots; ` +
        `(store, every ${STORE_SAMPLE_MS} ms): p50 ${l.store.lagSeconds.p50.toFixed(2)} s, p99 ${l.store.lagSeconds.p99.toFixed(2)} s, max ${l.store.lagSeconds.max.toFixed(2)} s, rows max ${fmtRate(l.store.lagRows.max)}; ` +
        `${l.writeReqs} write requests of ${fmtRate(l.writeLines / Math.max(1, l.writeReqs))} lines on average; ack p99 ${lagRun.load.latencyMs.p99.toFixed(2)} ms`,
    )
    f.verifications.push(await verify('after the lag run', store, influx, 'bench_drain', repl))
    f.vitals.push({
      scenario: `InfluxDB replication: ${points.toLocaleString('en-US')}-point backlog, its drain, then ${fmtRate(ic.lagRate)} msg/s for ${ic.lagMs / 1000} s`,
      vitals: await replVitals.stop(),
    })
    store.close()

    // ---- 3. Max ingest with replication on / off ------------------------------------------------
    const [on, off] = await Promise.all([
      launch('gateway, replication on', () =>
        launchGateway(dirs.on, site, prov.provisioned, { config: replication('bench_ingest'), label: 'gateway, replication on' }),
      ),
      launch('gateway, replication off', () => launchGateway(dirs.off, site, prov.provisioned, { label: 'gateway, replication off' })),
      stop(repl),
    ])
    if (!on || !off) return f
    const onStore = openReader(dirs.on, readers)
    const influxdPid = findInfluxdPid(influx.dataDir)
    const vOn = monitor(on)
    const vOff = monitor(off)
    /** After a run with replication on whose sending ended at `end`: rows behind now, and when the cursor reached the head. */
    const afterOn = async (end: number): Promise<{ rows: number; catchUpMs: number | null }> => {
      const rows = onStore.head() - onStore.cursor().id
      const at = await waitCaughtUp(onStore, 120_000)
      return { rows, catchUpMs: at === null ? null : Math.max(0, at - end) }
    }
    for (const t of [on, off]) {
      let start = Date.now()
      const w = await measure(t, cfg, { kind: 'max' }, WARMUP_MS, { onStart: () => (start = Date.now()) })
      const behind = t === on ? await afterOn(start + WARMUP_MS) : null
      log(`  ${t.label}: warm-up (not recorded) ${fmtRate(w.load.rate)} msg/s${behind ? `; caught up ${fmtMs(behind.catchUpMs)} after` : ''}`)
    }
    for (let i = 0; i < 2 * ic.ratioRuns; i++) {
      // A B B A A B …: each pair swaps its order.
      const t: Target = i % 4 === 0 || i % 4 === 3 ? off : on
      let ifs: ReturnType<typeof sampleProcess> | null = null
      let start = Date.now()
      const r = await measure(t, cfg, { kind: 'max' }, cfg.ingestMs, {
        onStart: () => {
          start = Date.now()
          ifs = t === on && influxdPid ? sampleProcess(influxdPid) : null
        },
      })
      const ifd = (ifs as ReturnType<typeof sampleProcess> | null)?.stop() ?? null
      let extra = ''
      if (t === on) {
        f.on.push(r)
        if (ifd) f.influxdCores.push(ifd.cpuCores)
        const behind = await afterOn(start + cfg.ingestMs)
        f.onBehind.push(behind)
        extra = `, influxd ${ifd ? ifd.cpuCores.toFixed(2) : '?'} cores; ${behind.rows.toLocaleString('en-US')} rows behind when the generator returned, cursor at the head ${fmtMs(behind.catchUpMs)} after sending stopped`
      } else f.off.push(r)
      log(
        `  ${t.label}: max ingest ${fmtRate(r.load.rate)} msg/s, gateway ${r.brokerCpuCores.toFixed(2)} cores, rss ${Math.round(r.brokerRssPeakMb)} MiB, other ${r.otherCpuCores.toFixed(2)} cores${extra}`,
      )
    }
    f.ratio = centre(f.on.map((r) => r.load.rate)) / centre(f.off.map((r) => r.load.rate))
    log(`  replication on / off: ${f.ratio.toFixed(3)}`)
    f.verifications.push(await verify('after the max-ingest runs', onStore, influx, 'bench_ingest', on))
    const runs = `warm-up + ${ic.ratioRuns} × ${cfg.ingestMs / 1000} s`
    f.vitals.push({ scenario: `Max QoS 1 ingest, InfluxDB replication on (${runs}, catch-ups included)`, vitals: await vOn.stop() })
    f.vitals.push({ scenario: `Max QoS 1 ingest, InfluxDB replication off (${runs})`, vitals: await vOff.stop() })
    return f
  } catch (err) {
    log(`influx: failed: ${(err as Error).message}`)
    f.notes.push(`InfluxDB scenario failed: ${(err as Error).message.split('\n')[0]}`)
    f.failed.push(`the scenario failed: ${(err as Error).message.split('\n')[0]}`)
    return f
  } finally {
    for (const r of readers) if (r.open) r.close()
    await Promise.allSettled([...started].map(stop))
    await influx?.dispose()
    for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true })
    for (const v of f.verifications) if (!v.ok) f.failed.push(`InfluxDB ${v.phase}: ${v.detail}`)
  }
}

/** A read-only connection to a running gateway's store: head and cursor of the points lane. */
function openReader(dataDir: string, readers: Database.Database[]) {
  const db = new Database(join(dataDir, STORE_FILE), { readonly: true, fileMustExist: true })
  readers.push(db)
  const head = db.prepare('SELECT coalesce(max(id), 0) FROM points').pluck()
  // sink_cursor is created by the sink worker, which starts after the gateway is up: prepared once it exists.
  let cursor: Database.Statement | undefined
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sink_cursor'`).pluck()
  return {
    db,
    head: (): number => head.get() as number,
    cursor: (): { id: number; at: number } => {
      if (!cursor && exists.get() === undefined) return { id: 0, at: 0 }
      cursor ??= db.prepare(`SELECT last_id AS id, updated_at AS at FROM sink_cursor WHERE sink = 'influx' AND lane = 'points'`)
      return (cursor.get() as { id: number; at: number } | undefined) ?? { id: 0, at: 0 }
    },
    close: (): void => {
      db.close()
    },
  }
}
type Reader = ReturnType<typeof openReader>

/** Poll the store every 50 ms until the cursor reaches the head; the cursor's own timestamp then, or null on timeout. */
async function waitCaughtUp(store: Reader, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const c = store.cursor()
    if (c.id >= store.head()) return c.at
    await sleep(50)
  }
  return null
}

/** The points lane of GET /api/v1/status (viewer token); null when it is not there. */
async function laneStatus(t: Target): Promise<LaneStatus | null> {
  if (!t.http?.token) return null
  try {
    const res = await fetch(`http://127.0.0.1:${t.http.port}/api/v1/status`, {
      headers: { authorization: `Bearer ${t.http.token}` },
      signal: AbortSignal.timeout(5000),
    })
    if (!res.ok) return null
    const body = (await res.json()) as { replication?: { influx?: { lanes?: { points?: LaneStatus } } } }
    return body.replication?.influx?.lanes?.points ?? null
  } catch {
    return null
  }
}

async function waitStatus(t: Target, ok: (s: LaneStatus) => boolean, timeoutMs: number): Promise<LaneStatus | null> {
  const deadline = Date.now() + timeoutMs
  let s: LaneStatus | null = null
  while (Date.now() < deadline) {
    s = await laneStatus(t)
    if (s && ok(s)) return s
    await sleep(100)
  }
  return s
}

/** influxd's HTTP counters since it started (SHOW STATS, module httpd). */
async function influxHttpStats(influx: Influxd): Promise<{ pointsWrittenOK: number; writeReq: number; writeReqDurationNs: number }> {
  const r = await influx.query(`SHOW STATS FOR 'httpd'`)
  const s = r[0]?.series?.[0]
  const col = (name: string): number => {
    const i = s?.columns.indexOf(name) ?? -1
    return i >= 0 ? Number(s!.values[0]![i]) : NaN
  }
  return { pointsWrittenOK: col('pointsWrittenOK'), writeReq: col('writeReq'), writeReqDurationNs: col('writeReqDurationNs') }
}

/**
 * Compare InfluxDB with the store once replication has caught up: per metric, count(*) of the field
 * against the store's distinct (series, ts) (InfluxDB keeps one point per series and timestamp);
 * the cursor at the head; none refused.
 */
async function verify(phase: string, store: Reader, influx: Influxd, database: string, t: Target): Promise<Verification> {
  const caught = await waitCaughtUp(store, 60_000)
  const rows = store.head()
  const cursor = store.cursor().id
  const storeCounts = new Map<string, number>()
  const q = store.db.prepare(
    'SELECT s.metric AS metric, count(*) AS n FROM (SELECT DISTINCT series_id, ts FROM points) p JOIN series s ON s.id = p.series_id GROUP BY s.metric',
  )
  for (const r of q.all() as Array<{ metric: string; n: number }>) storeCounts.set(r.metric, r.n)
  const influxCounts = new Map<string, number>()
  for (const s of (await influx.query('SELECT count(*) FROM /.*/', database))[0]?.series ?? []) {
    s.columns.forEach((c, i) => {
      if (c.startsWith('count_')) influxCounts.set(c.slice(6), (influxCounts.get(c.slice(6)) ?? 0) + Number(s.values[0]![i]))
    })
  }
  // The status snapshot is refreshed once a second.
  const st = await waitStatus(t, (x) => x.cursor >= rows, 3000)
  const fmt = (m: Map<string, number>): string =>
    [...m]
      .sort()
      .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
      .join(', ') || 'none'
  const keys = new Set([...storeCounts.keys(), ...influxCounts.keys()])
  const countsMatch = [...keys].every((k) => storeCounts.get(k) === influxCounts.get(k))
  const problems: string[] = []
  if (caught === null) problems.push('replication did not catch up within 60 s')
  if (!countsMatch) problems.push(`count(*) differs: InfluxDB ${fmt(influxCounts)} vs store ${fmt(storeCounts)}`)
  if (cursor !== rows) problems.push(`cursor ${cursor} ≠ head ${rows}`)
  if (!st) problems.push('no replication status')
  else {
    // A reading's metrics share one line, so there are at most as many lines as rows.
    if (st.sentLines === 0 || st.sentLines > rows) problems.push(`lines acknowledged ${st.sentLines} for ${rows} rows stored`)
    if (st.rejectedLines !== 0) problems.push(`${st.rejectedLines} lines refused`)
  }
  const ok = problems.length === 0
  const detail = ok
    ? `${rows.toLocaleString('en-US')} rows stored and acknowledged, none refused; count(*) = distinct (series, ts) per metric: ${fmt(influxCounts)}`
    : problems.join('; ')
  return { phase, ok, detail }
}

/** The influxd process (not its `timeout` wrapper) started with the config in `dataDir`. */
function findInfluxdPid(dataDir: string): number | null {
  const config = join(dataDir, 'influxd.toml')
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (basename(argv[0] ?? '') === 'influxd' && argv.includes(config)) return Number(entry)
    } catch {
      // gone
    }
  }
  return null
}

/** CPU seconds per thread of `pid` (/proc/PID/task/TID/stat: /proc/TID/stat would give the whole process), with the thread's name. */
function threadCpu(pid: number): Map<number, { name: string; s: number }> {
  const out = new Map<number, { name: string; s: number }>()
  const tck = clockTicks()
  try {
    for (const entry of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${entry}/stat`, 'utf8')
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // rest[0] is field 3 (state)
        const tid = Number(entry)
        out.set(tid, { name: tid === pid ? `${name} (main)` : name, s: (Number(rest[11]) + Number(rest[12])) / tck })
      } catch {
        // the thread is gone
      }
    }
  } catch {
    // the process is gone
  }
  return out
}

let ticks = 0
function clockTicks(): number {
  if (!ticks) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticks = 100
    }
  }
  return ticks
}

function topThreads(
  a: Map<number, { name: string; s: number }>,
  b: Map<number, { name: string; s: number }>,
  seconds: number,
): Array<{ name: string; cores: number }> {
  return [...b]
    .map(([tid, v]) => ({ name: v.name, cores: (v.s - (a.get(tid)?.s ?? 0)) / Math.max(0.001, seconds) }))
    .sort((x, y) => y.cores - x.cores)
    .slice(0, 3)
}

function pcts(xs: number[]): Pcts {
  return { p50: pct(xs, 50), p99: pct(xs, 99), max: xs.length ? Math.max(...xs) : 0 }
}

/** Nearest-rank percentile. */
function pct(xs: number[], p: number): number {
  if (!xs.length) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

const fmtMs = (ms: number | null): string => (ms === null ? 'not within the limit' : `${(ms / 1000).toFixed(2)} s`)
const pass = (ok: boolean): string => (ok ? '**PASS**' : '**FAIL**')

/** The InfluxDB table and notes, for the report. */
export function renderInflux(f: InfluxFigures, cfg: BenchConfig, ic: InfluxBenchConfig): string[] {
  if (f.skipped) return [`InfluxDB replication: ${f.skipped}`]
  const dash = '–'
  const s2 = (n: number): string => num(n, 2)
  const rate = (runs: RunFigures[]): string => {
    if (!runs.length) return dash
    const xs = runs.map((x) => x.load.rate)
    return runs.length > 1 ? `${fmtRate(centre(xs))} (${fmtRate(Math.min(...xs))}–${fmtRate(Math.max(...xs))})` : fmtRate(xs[0]!)
  }
  const d = f.drain
  const l = f.lag
  const lagRate = fmtRate(ic.lagRate)
  const lagRow = (label: string, x: Pcts | undefined, fmt: (n: number) => string, target: boolean): string =>
    `| ${label} | ${x ? `${fmt(x.p50)} / ${fmt(x.p99)} / ${fmt(x.max)}` : dash} | ${target ? `max < ${INFLUX_TARGETS.lagSeconds}` : ''} | ${target && x ? pass(x.max < INFLUX_TARGETS.lagSeconds) : ''} |`
  const verified = f.verifications.length ? (f.verifications.every((v) => v.ok) ? 'match' : '**MISMATCH**') : dash
  const runs = f.on.length
  const rows = [
    `| InfluxDB replication (${f.influxdLabel}, v1 protocol) | stockyard gateway | target | result |`,
    '|---|---:|---:|---|',
    `| Backlog drain, points/s (${d ? d.points.toLocaleString('en-US') : dash} points: influxd ready → cursor at the head) | ${d ? fmtRate(d.points / (d.drainMs / 1000)) : dash} | | |`,
    `| Backlog drain, s | ${d ? s2(d.drainMs / 1000) : dash} | | |`,
    `| Drain rate once sending (first → last acknowledged batch), points/s | ${d && d.drainMs > d.firstAckMs ? fmtRate((d.points - d.firstAckRows) / ((d.drainMs - d.firstAckMs) / 1000)) : dash} | | |`,
    lagRow(`Replication lag @ ${lagRate} msg/s, s (/api/v1/status): p50 / p99 / max`, l?.lagSeconds, s2, true),
    lagRow(`Replication lag @ ${lagRate} msg/s, s (store, every ${STORE_SAMPLE_MS} ms): p50 / p99 / max`, l?.store.lagSeconds, s2, true),
    lagRow(`Replication lag @ ${lagRate} msg/s, rows (/api/v1/status): p50 / p99 / max`, l?.lagRows, fmtRate, false),
    lagRow(`Replication lag @ ${lagRate} msg/s, rows (store, every ${STORE_SAMPLE_MS} ms): p50 / p99 / max`, l?.store.lagRows, fmtRate, false),
    `| Max QoS 1 ingest, replication on, msg/s (${runs > 1 ? `centre of ${runs} [min–max]` : 'one run'}) | ${rate(f.on)} | | |`,
    `| Max QoS 1 ingest, replication off (runs interleaved), msg/s | ${rate(f.off)} | | |`,
    `| Replication on / off | ${f.ratio === null ? dash : `${f.ratio.toFixed(2)}×`} | ≥ ${INFLUX_TARGETS.ratio.toFixed(2)}× | ${f.ratio === null ? dash : pass(f.ratio >= INFLUX_TARGETS.ratio)} |`,
    `| InfluxDB count(*) vs the store | ${verified} | match | ${f.verifications.length ? pass(f.verifications.every((v) => v.ok)) : dash} |`,
  ]
  const notes: string[] = [...f.notes]
  if (d) {
    const th = d.threads.map((t) => `${t.name} ${t.cores.toFixed(2)}`).join(', ')
    notes.push(
      `drain: the backlog was published at ${fmtRate(d.backlogRate)} msg/s with influxd down (${d.failedBefore} failed attempts, last: ${d.errorBefore ?? 'none'}; ` +
        `status lagSeconds ${d.lagBeforeS === null ? dash : s2(d.lagBeforeS)} s when the backlog's first message was ${s2(d.backlogAgeS)} s old, the snapshot being up to 1 s older); ` +
        `first batch acknowledged ${d.firstAckMs} ms after influxd was ready (retry backoff ≤ ${RETRY.retryMaxMs} ms); /api/v1/status showed lagRows 0 after ${d.statusDrainMs === null ? dash : s2(d.statusDrainMs / 1000)} s (1-s snapshots); ` +
        `influxd took ${fmtRate(d.influxPoints)} lines in ${d.influxWriteReqs} write requests and spent ${fmtRate(d.influxWriteMs)} ms in them (summed over concurrent requests, ${s2(d.influxWriteMs / Math.max(1, d.influxWriteReqs))} ms each); ` +
        `CPU over the drain: gateway ${s2(d.gateway.cpuCores)} cores (busiest threads: ${th}), influxd ${d.influxd ? s2(d.influxd.cpuCores) : dash} cores, machine ${s2(d.gateway.machineCores)} cores`,
    )
  }
  if (l) {
    const b = l.run.load
    notes.push(
      `lag run: ${fmtRate(b.rate)} msg/s achieved (${fmtRate(2 * b.rate)} points/s), ack latency p50 ${s2(b.latencyMs.p50)} / p99 ${s2(b.latencyMs.p99)} ms, gateway ${s2(l.run.brokerCpuCores)} cores; ` +
        `${l.samples} distinct status snapshots, ${l.store.samples} store samples; influxd took ${l.writeReqs} write requests of ${fmtRate(l.writeLines / Math.max(1, l.writeReqs))} lines on average; ` +
        `caught up ${fmtMs(l.catchUpMs)} after the load stopped. The status figure is the worker's snapshot once a second, which can fall at the same point of every batch cycle; ` +
        `the store figures (head − cursor from a read-only connection every ${STORE_SAMPLE_MS} ms; seconds since the sampler first saw the oldest unacknowledged row) see the whole cycle`,
    )
  }
  if (f.on.length && f.off.length) {
    const perMsg = (rs: RunFigures[]): string => `${num(centre(rs.map((x) => (x.brokerCpuCores * 1e6) / Math.max(1, x.load.rate))), 1)} µs`
    const cores = (rs: RunFigures[]): string => s2(centre(rs.map((x) => x.brokerCpuCores)))
    notes.push(
      `at max ingest: gateway ${cores(f.on)} cores, ${perMsg(f.on)} CPU per message with replication on vs ${cores(f.off)} cores, ${perMsg(f.off)} off; ` +
        `influxd used ${f.influxdCores.map((c) => c.toFixed(2)).join(' / ')} cores during the runs with replication on (gateway, generator and influxd share this machine's ${os.availableParallelism()} cores); ` +
        `when the generator returned replication was ${f.onBehind.map((b) => b.rows.toLocaleString('en-US')).join(' / ')} rows behind; the cursor reached the head ${f.onBehind.map((b) => fmtMs(b.catchUpMs)).join(' / ')} after sending stopped (the last partial batch waits for flushMs)`,
    )
  }
  for (const v of f.verifications) notes.push(`InfluxDB vs store ${v.phase}: ${v.ok ? 'match' : '**MISMATCH**'} — ${v.detail}`)
  const method =
    `InfluxDB replication: a real ${f.influxdLabel} on 127.0.0.1 (test/helpers/influxd.ts), the gateway's defaults (v1 protocol, batches of 5,000 lines or 1 s, 2 in flight) except retries capped at ${RETRY.retryMaxMs} ms. ` +
    `Drain: a gateway with replication on starts while influxd is down; the generator publishes ${ic.backlogMsgs.toLocaleString('en-US')} readings (2 points each) at ${fmtRate(ic.backlogRate)} msg/s; ` +
    `then influxd starts and the drain is timed from its first /ping to the points cursor reaching the head (the cursor row's own timestamp, read through a read-only SQLite connection; /api/v1/status polled every 100 ms as a check). ` +
    `Lag: the same gateway at ${lagRate} msg/s for ${ic.lagMs / 1000} s, \`lagSeconds\` / \`lagRows\` of the points lane from /api/v1/status every ${ic.sampleMs} ms (the worker refreshes it once a second; repeated snapshots counted once). ` +
    `Readings are stamped every ${CHUNK} messages per device in these two runs. On / off: two gateways from one data dir, one with replication to influxd, a ${WARMUP_MS / 1000} s warm-up each, then ${ic.ratioRuns} × ${cfg.ingestMs / 1000} s max-ingest runs each, ` +
    `interleaved (A B B A …), waiting after each run with replication on until it has caught up. Count check: InfluxDB keeps one point per (series, timestamp), so count(*) per field is compared with the store's distinct (series, ts) per metric.`
  return [method, '', ...rows, '', ...notes.map((n) => `- ${n}`)]
}
