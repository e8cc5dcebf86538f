/**
 * The broker table of the report (max ingest and ack latency at fixed rates, one column per
 * target, ratios to the baselines) and the gateway's vitals per scenario (RSS, event-loop lag).
 */
import type { HttpFigures } from './http-scenario.ts'
import type { Vitals } from './monitor.ts'
import { COLUMNS, num, type Row } from './report.ts'
import { fmtRate, spread, type BenchConfig, type IngestFigures, type RunFigures } from './scenarios.ts'
import type { TargetName } from './targets/types.ts'

/** What one target's run of the broker scenarios produced (null: not selected). */
export interface TargetFigures {
  ingest: IngestFigures | null
  /** Runs per fixed rate. */
  rates: Map<number, RunFigures[]> | null
  http: HttpFigures | null
  /** Per scenario (`ingest`, `rates`, `http`). */
  vitals: Record<string, Vitals>
  counters: Record<string, number> | null
}

/** Every generator run of a target, for the unacked / disturbed notes. */
export function allRuns(f: TargetFigures): RunFigures[] {
  return [...(f.ingest?.runs ?? []), ...[...(f.rates?.values() ?? [])].flat(), ...(f.http?.endpoints.flatMap((e) => e.runs.map((r) => r.ingest)) ?? [])]
}

/** Rows of the broker table: max ingest, ack latency p50 / p99 / max at each rate, CPU and RSS. */
export function brokerRows(figures: Partial<Record<TargetName, TargetFigures>>, cfg: BenchConfig): Row[] {
  const have = COLUMNS.filter((c) => figures[c])
  /** Median (min–max) over runs for every target that has them. */
  const row = (figure: string, runsOf: (x: TargetFigures) => number[] | null, digits: number, fmt = (n: number): string => num(n, digits)): Row | null => {
    const values: Partial<Record<TargetName, number>> = {}
    const cells: Partial<Record<TargetName, string>> = {}
    for (const c of have) {
      const xs = runsOf(figures[c]!)
      if (!xs?.length) continue
      const s = spread(xs)
      values[c] = s.median
      cells[c] = s.runs > 1 ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : fmt(s.median)
    }
    return Object.keys(values).length ? { figure, values, cells, digits } : null
  }
  const ingestRuns = cfg.ingestRuns > 1 ? ` (median of ${cfg.ingestRuns} [min–max])` : ''
  const rateRuns = cfg.rateRuns > 1 ? `, median of ${cfg.rateRuns} [min–max]` : ''
  const atRate = (rate: number, pick: (r: RunFigures) => number) => (x: TargetFigures) => x.rates?.get(rate)?.map(pick) ?? null
  const rows: Array<Row | null> = [row(`Max QoS 1 ingest, msg/s${ingestRuns}`, (x) => x.ingest?.runs.map((r) => r.load.rate) ?? null, 0, fmtRate)]
  for (const rate of cfg.rates) {
    const r = rate.toLocaleString('en-US')
    rows.push(
      row(
        `Ack latency p50 @ ${r} msg/s, ms${rateRuns}`,
        atRate(rate, (x) => x.load.latencyMs.p50),
        2,
      ),
      row(
        `Ack latency p99 @ ${r} msg/s, ms${rateRuns}`,
        atRate(rate, (x) => x.load.latencyMs.p99),
        2,
      ),
      row(
        `Ack latency max @ ${r} msg/s, ms${rateRuns}`,
        atRate(rate, (x) => x.load.latencyMs.max),
        1,
      ),
      row(
        `Achieved rate @ ${r} msg/s`,
        atRate(rate, (x) => x.load.rate),
        0,
        fmtRate,
      ),
    )
  }
  rows.push(
    row('Broker CPU at max ingest, cores', (x) => x.ingest?.runs.map((r) => r.brokerCpuCores) ?? null, 2),
    row(
      'Broker peak RSS (ingest and rates), MiB',
      (x) => [Math.max(0, ...[...(x.ingest?.runs ?? []), ...[...(x.rates?.values() ?? [])].flat()].map((r) => r.brokerRssPeakMb))],
      0,
    ),
    row('Generator CPU at max ingest, cores', (x) => x.ingest?.runs.map((r) => r.load.cpuCores) ?? null, 2),
  )
  return rows.filter((r): r is Row => r !== null)
}

/** The gateway's RSS peak and main-thread event-loop delay per scenario. */
export function renderVitals(rows: Array<{ scenario: string; vitals: Vitals }>): string[] {
  if (!rows.length) return []
  const ms = (n: number | null): string => (n === null ? '–' : num(n, 1))
  return [
    'Gateway vitals per scenario: RSS of the gateway process from /proc every 250 ms; event-loop delay of its main thread (broker, HTTP) from its /metrics ' +
      '(`nodejs_eventloop_lag_p99_seconds` / `_max_seconds`, a histogram each scrape reads and resets) every 2 s, minus the 10 ms sampling timer; ' +
      'p99: median of the 2-s windows\u2019 p99 (worst window in brackets). The ingest worker thread has its own loop, not shown here.',
    '',
    '| Gateway scenario | peak RSS, MiB | event-loop delay p99, ms | event-loop delay max, ms | windows |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      ({ scenario, vitals: v }) =>
        `| ${scenario} | ${num(v.rssPeakMb, 0)} | ${v.lagP99Ms === null ? '–' : `${ms(v.lagP99Ms)} (${ms(v.lagWorstP99Ms)})`} | ${ms(v.lagMaxMs)} | ${v.windows} |`,
    ),
  ]
}

/** Issue 4's broker targets against mosquitto, from this run's medians; [] when a side is missing. */
export function brokerTargets(figures: Partial<Record<TargetName, TargetFigures>>): string[] {
  const g = figures.gateway
  const m = figures.mosquitto
  if (!g || !m) return []
  const verdict = (ok: boolean): string => (ok ? '**PASS**' : '**FAIL**')
  const med = (xs: number[] | undefined): number | null => (xs?.length ? spread(xs).median : null)
  const out: string[] = []
  const gi = med(g.ingest?.runs.map((r) => r.load.rate))
  const mi = med(m.ingest?.runs.map((r) => r.load.rate))
  if (gi !== null && mi) {
    out.push(
      `- Target: gateway max QoS 1 durable ingest ≥ 1.0× mosquitto's QoS 1 pass-through: ${verdict(gi >= mi)} — ${fmtRate(gi)} vs ${fmtRate(mi)} msg/s = ${(gi / mi).toFixed(2)}×`,
    )
  }
  const gp = med(g.rates?.get(5000)?.map((r) => r.load.latencyMs.p99))
  const mp = med(m.rates?.get(5000)?.map((r) => r.load.latencyMs.p99))
  if (gp !== null && mp) {
    out.push(
      `- Target: p99 ack latency at 5,000 msg/s ≤ 2× mosquitto's: ${verdict(gp <= 2 * mp)} — ${gp.toFixed(2)} vs ${mp.toFixed(2)} ms = ${(gp / mp).toFixed(1)}×`,
    )
  }
  return out
}
