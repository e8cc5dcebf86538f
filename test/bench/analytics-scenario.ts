/**
 * The analytics scenario of `npm run bench` (issue 6's targets):
 *
 * 1. Forecast speed on one core: 1,000 simulated SKUs × 730 days (simulators/demand.ts: fast, slow
 *    and intermittent, weekly shape, some trend) forecast 28 days ahead with `auto`, in this process
 *    (one thread). The baseline in the same run is seasonal naive over the same series; target ≤ 10 s.
 *    The same forecasts are scored against the process's ground truth (the expected demand of the
 *    28 held-out days): MAE relative to seasonal naive's, i.e. forecast value added.
 * 2. A full analytics run (what the worker does nightly: fold, forecast, 3-origin backtest, policy,
 *    segments, regression, one write) on a SQLite file seeded with the same 1,000 × 730 days.
 * 3. Ingest while a run is in progress: a gateway whose store holds those 1,000 × 730 days; ack p99
 *    at a fixed rate with re-fits running back to back, against the same rate with none, runs
 *    alternating (idle, busy, idle, busy …). Target ratio ≤ 1.5×.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { openAnalyticsDb } from '../../gateway/analytics/db.ts'
import { DAY_MS, DemandLedger } from '../../gateway/analytics/demand.ts'
import { forecastSeries } from '../../gateway/analytics/forecast/index.ts'
import { runAnalytics } from '../../gateway/analytics/run.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import { openSqliteStore } from '../../gateway/store/sqlite/index.ts'
import { dailyDemand, demandSpec, type DemandSpec } from '../../simulators/demand.ts'
import { REPO_ROOT } from './paths.ts'
import { num } from './report.ts'
import { fmtRate, measure, spread, type BenchConfig, type RunFigures } from './scenarios.ts'
import { gatewayDataDir, launchGateway, provisionGateway } from './targets/gateway.ts'
import type { Target } from './targets/types.ts'

export interface AnalyticsBenchConfig {
  skus: number
  days: number
  horizon: number
  /** Timed passes over all SKUs (auto and snaive each). */
  speedRuns: number
  /** Ingest runs per side (idle, busy), alternating. */
  ingestRuns: number
  ingestRate: number
  ingestMs: number
}

export const ANALYTICS_TARGETS = { forecastS: 10, ingestP99Ratio: 1.5 }

interface SpeedRun {
  autoS: number
  snaiveS: number
}

export interface AnalyticsFigures {
  speed: SpeedRun[]
  methods: Record<string, number>
  /** Mean absolute error against the ground truth, per held-out day, averaged over SKUs. */
  maeAuto: number
  maeSnaive: number
  fullRunS: number | null
  idle: RunFigures[]
  busy: RunFigures[]
  refits: number
  notes: string[]
}

/** The simulated assortment: 40 % fast (some trending), 30 % slow, 30 % intermittent. */
function assortment(n: number, days: number, start: number): Array<{ sku: string; units: number[]; expected: number[] }> {
  const out = []
  for (let i = 0; i < n; i++) {
    const kind = i % 10
    const spec: DemandSpec =
      kind < 4
        ? demandSpec({ perDay: 5 + ((i * 7) % 45), trend: kind === 0 ? 0.001 : 0 })
        : kind < 7
          ? demandSpec({ perDay: 0.5 + ((i * 3) % 9) / 2, pattern: 'slow', lineMean: 1 })
          : demandSpec({ perDay: 0.5 + ((i * 5) % 8) / 2, pattern: 'intermittent', dayChance: 0.1 + ((i * 3) % 4) / 10 })
    const d = dailyDemand(spec, days, { seed: 1000 + i, start })
    out.push({ sku: `SKU-${String(i).padStart(5, '0')}`, units: d.units, expected: d.expected })
  }
  return out
}

export async function analyticsBench(cfg: BenchConfig, ac: AnalyticsBenchConfig, site: string, log: (s: string) => void): Promise<AnalyticsFigures> {
  const today = Math.floor(Date.now() / DAY_MS)
  const start = (today - ac.days) * DAY_MS
  const skus = assortment(ac.skus, ac.days, start)
  const f: AnalyticsFigures = { speed: [], methods: {}, maeAuto: 0, maeSnaive: 0, fullRunS: null, idle: [], busy: [], refits: 0, notes: [] }

  // 1. Speed, one thread: fit on everything (what the nightly run does).
  const pass = (method: string): number => {
    const t = performance.now()
    for (const s of skus) forecastSeries(s.units, { period: 7, horizon: ac.horizon, method })
    return (performance.now() - t) / 1000
  }
  for (let r = 0; r < ac.speedRuns; r++) {
    const run = { snaiveS: pass('snaive'), autoS: pass('auto') }
    f.speed.push(run)
    log(
      `  analytics: ${ac.skus} SKUs × ${ac.days} days, run ${r + 1}/${ac.speedRuns}: auto ${run.autoS.toFixed(2)} s, seasonal naive ${run.snaiveS.toFixed(2)} s`,
    )
  }
  // Accuracy against the truth: fit on all but the last `horizon` days, score the held-out days' expected demand.
  let ea = 0
  let es = 0
  for (const s of skus) {
    const train = s.units.slice(0, -ac.horizon)
    const truth = s.expected.slice(-ac.horizon)
    const a = forecastSeries(train, { period: 7, horizon: ac.horizon, method: 'auto' })
    const b = forecastSeries(train, { period: 7, horizon: ac.horizon, method: 'snaive' })
    f.methods[a.method.replace(/\(.*/, '')] = (f.methods[a.method.replace(/\(.*/, '')] ?? 0) + 1
    ea += truth.reduce((sum, t, i) => sum + Math.abs(Math.max(0, a.forecast[i]!) - t), 0) / ac.horizon
    es += truth.reduce((sum, t, i) => sum + Math.abs(b.forecast[i]! - t), 0) / ac.horizon
  }
  f.maeAuto = ea / skus.length
  f.maeSnaive = es / skus.length

  // 2. The worker's full run, in this process, on a seeded file.
  const dir = mkdtempSync(join(tmpdir(), 'stockyard-bench-analytics-'))
  try {
    seedDemand(dir, skus, start)
    const config = loadConfig({ overrides: { dataDir: dir, rules: { dir: join(dir, 'no-rules'), watch: false } } })
    const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
    const adb = openAnalyticsDb(dir)
    try {
      const summary = await runAnalytics(store.db, adb, config, { reason: 'request', now: Date.now, log: { warn: () => undefined } })
      f.fullRunS = summary.seconds
      log(`  analytics: full run (3-origin backtest, policy, segments, one write) over ${summary.skus} SKUs: ${summary.seconds.toFixed(2)} s`)
    } finally {
      adb.close()
      store.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }

  // 3. Ingest with and without a run in progress.
  const gwDir = gatewayDataDir()
  const p = await provisionGateway(gwDir, site, cfg.connections)
  if (!p.ok) {
    f.notes.push(`ingest during a run: ${p.reason}`)
    return f
  }
  seedDemand(gwDir, skus, start)
  const admin = await adminToken(gwDir)
  const started = await launchGateway(gwDir, site, p.provisioned, { label: 'stockyard gateway (analytics)' })
  if (!started.ok) {
    f.notes.push(`ingest during a run: ${started.reason}`)
    return f
  }
  const t = started.target
  try {
    await waitIdle(t, admin)
    for (let r = 0; r < ac.ingestRuns; r++) {
      f.idle.push(await measure(t, cfg, { kind: 'rate', msgPerSec: ac.ingestRate }, ac.ingestMs))
      log(`  analytics: ingest ${fmtRate(ac.ingestRate)} msg/s, no run: ack p99 ${f.idle.at(-1)!.load.latencyMs.p99.toFixed(2)} ms`)
      let busy = true
      const refits = (async () => {
        while (busy) {
          await refit(t, admin)
          f.refits++
        }
      })()
      await refit(t, admin, false) // make sure one is running before the load starts
      f.busy.push(await measure(t, cfg, { kind: 'rate', msgPerSec: ac.ingestRate }, ac.ingestMs))
      busy = false
      await refits
      log(`  analytics: ingest ${fmtRate(ac.ingestRate)} msg/s, re-fits running: ack p99 ${f.busy.at(-1)!.load.latencyMs.p99.toFixed(2)} ms`)
    }
  } finally {
    await t.stop()
  }
  return f
}

/** Write `skus`' daily demand into the store's demand ledger (what months of picks would have left there). */
function seedDemand(dataDir: string, skus: ReadonlyArray<{ sku: string; units: number[] }>, start: number): void {
  const store = openSqliteStore({ dataDir, synchronous: 'NORMAL' })
  const adb = openAnalyticsDb(dataDir)
  try {
    new DemandLedger(store.db, adb)
    const put = adb.prepare('INSERT INTO analytics_demand (sku, day, units, lines) VALUES (?, ?, ?, ?)')
    const first = start / DAY_MS
    adb.transaction(() => {
      for (const s of skus) s.units.forEach((u, d) => u > 0 && put.run(s.sku, first + d, u, 1))
    })()
  } finally {
    adb.close()
    store.close()
  }
}

async function adminToken(dataDir: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['bin/stockyard.mjs', 'tokens', 'add', '--data', dataDir, '--role', 'admin', '--name', 'bench'],
    {
      cwd: REPO_ROOT,
      timeout: 60_000,
    },
  )
  return (JSON.parse(stdout) as { token: string }).token
}

async function refit(t: Target, token: string, wait = true): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${t.http!.port}/api/v1/analytics/refit?wait=${wait}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(120_000),
  })
  if (!res.ok) throw new Error(`refit answered ${res.status}: ${await res.text()}`)
  await res.arrayBuffer()
}

/** Wait for the run the gateway starts by itself (no run yet) to finish. */
async function waitIdle(t: Target, token: string): Promise<void> {
  const until = Date.now() + 120_000
  while (Date.now() < until) {
    const res = await fetch(`http://127.0.0.1:${t.http!.port}/api/v1/analytics/status`, { headers: { authorization: `Bearer ${token}` } })
    const s = (await res.json()) as { running: boolean; lastRun: unknown }
    if (!s.running && s.lastRun) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error('the gateway never finished its first analytics run')
}

export function renderAnalytics(f: AnalyticsFigures, ac: AnalyticsBenchConfig): string[] {
  const auto = spread(f.speed.map((r) => r.autoS))
  const naive = spread(f.speed.map((r) => r.snaiveS))
  const cell = (s: { median: number; min: number; max: number; runs: number }, d: number): string =>
    s.runs > 1 ? `${num(s.median, d)} (${num(s.min, d)}–${num(s.max, d)})` : num(s.median, d)
  const idle = spread(f.idle.map((r) => r.load.latencyMs.p99))
  const busy = spread(f.busy.map((r) => r.load.latencyMs.p99))
  const ratio = idle.runs && busy.runs && idle.median > 0 ? busy.median / idle.median : null
  const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL')
  const mix = Object.entries(f.methods)
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${m} ${n}`)
    .join(', ')
  const lines = [
    `Analytics (issue 6): ${ac.skus.toLocaleString('en-US')} simulated SKUs × ${ac.days} days (40 % fast, 30 % slow, 30 % intermittent; simulators/demand.ts), ` +
      `forecast ${ac.horizon} days ahead with 80/95 % intervals, on one thread. ${f.speed.length > 1 ? `Median (min–max) of ${f.speed.length} runs.` : '1 run.'}`,
    '',
    '| Figure | auto | seasonal naive (baseline) | auto / baseline | target |',
    '|---|---:|---:|---:|---|',
    `| Forecast ${ac.skus.toLocaleString('en-US')} SKUs, s | ${cell(auto, 2)} | ${cell(naive, 2)} | ${(auto.median / naive.median).toFixed(0)}× | ≤ ${ANALYTICS_TARGETS.forecastS} s: ${pass(auto.median <= ANALYTICS_TARGETS.forecastS)} |`,
    `| Per SKU, ms | ${num((1000 * auto.median) / ac.skus, 2)} | ${num((1000 * naive.median) / ac.skus, 3)} | | |`,
    `| MAE vs the true expected demand, ${ac.horizon} held-out days, units/day | ${num(f.maeAuto, 3)} | ${num(f.maeSnaive, 3)} | ${(f.maeAuto / f.maeSnaive).toFixed(2)}× | below 1× (value added ${num(100 * (1 - f.maeAuto / f.maeSnaive), 0)} %) |`,
    '',
    `- Methods auto chose (held-out fits): ${mix}.`,
    `- Full analytics run as the worker does it (fold, forecast, 3-origin backtest, policy, segments, regression, one write) over the same SKUs: ${f.fullRunS === null ? 'not run' : `${num(f.fullRunS, 2)} s`}.`,
  ]
  if (ratio !== null) {
    lines.push(
      `- Ingest at ${fmtRate(ac.ingestRate)} msg/s with re-fits running back to back (${f.refits} finished) vs none, ${idle.runs} runs each, alternating, ${ac.ingestMs / 1000} s each: ` +
        `ack p99 ${cell(busy, 2)} ms vs ${cell(idle, 2)} ms = **${ratio.toFixed(2)}×** (target ≤ ${ANALYTICS_TARGETS.ingestP99Ratio}×: ${pass(ratio <= ANALYTICS_TARGETS.ingestP99Ratio)}).`,
    )
  }
  return [...lines, ...f.notes.map((n) => `- ${n}`)]
}
