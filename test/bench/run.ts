/**
 * `npm run bench` — bare aedes, mosquitto and the Stockyard gateway on this machine, each in its
 * own process, with the same generator: max QoS 1 ingest, ack latency at 1k / 5k / 10k msg/s,
 * HTTP query latency under ingest (gateway), 10,000 connected devices with heartbeats, the gateway's
 * RSS and event-loop delay per scenario, the rule engine's figures, InfluxDB replication (drain, lag,
 * ingest with it on / off), Node-RED's start time and memory (on / off), the HQ pull (speed, puller
 * memory, its effect on ingest) and the store-growth check.
 * Prints the tables and keeps them in BENCHMARKS.md.
 *
 *   npm run bench                  full (~15 min): every scenario, >= 3 runs of each figure
 *   npm run bench -- --quick       < 2 min: ingest, rates, http, conns with 1 run each; no rules, no influx, no store growth
 * Flags: --only ingest,rates,http,conns,rules,influx,analytics,ui,nodered,hq,growth  --targets aedes,mosquitto,gateway  --no-rules  --rules-only
 *        --devices 10000  --heartbeat-s 5  --probes N  --connections 8  --seed-rows 10000000  --no-write  --out FILE
 */
import { readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { REPO_ROOT } from './paths.ts'
import { renderUi, uiBench, type UiBenchConfig, type UiFigures } from './ui-scenario.ts'
import { analyticsBench, renderAnalytics, type AnalyticsBenchConfig, type AnalyticsFigures } from './analytics-scenario.ts'
import { connsBench, renderConns, type ConnsBenchConfig, type ConnsFigures } from './conns-scenario.ts'
import { httpUnderIngest, renderHttp, type HttpBenchConfig } from './http-scenario.ts'
import { hqBench, renderHq, type HqBenchConfig, type HqFigures } from './hq-scenario.ts'
import { influxBench, renderInflux, type InfluxBenchConfig, type InfluxFigures } from './influx-scenario.ts'
import { withVitals, type Vitals } from './monitor.ts'
import { nodeRedBench, renderNodeRed, type NodeRedBenchConfig, type NodeRedFigures } from './nodered-scenario.ts'
import { machineBusyCores } from './proc.ts'
import { COLUMNS, num, table, writeSection } from './report.ts'
import { renderRules, ruleEngineBench, type RuleFigures, type RulesBenchConfig } from './rules-scenario.ts'
import { fmtRate, latencyAtRates, maxIngest, spread, type BenchConfig, type RunFigures } from './scenarios.ts'
import { allRuns, brokerRows, brokerTargets, renderVitals, type TargetFigures } from './tables.ts'
import { seedRows } from './seed.ts'
import { startAedes } from './targets/aedes.ts'
import { gatewayDataDir, startGateway } from './targets/gateway.ts'
import { startMosquitto } from './targets/mosquitto.ts'
import type { Started, Target, TargetName } from './targets/types.ts'

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string', default: COLUMNS.join(',') },
    only: { type: 'string' },
    devices: { type: 'string', default: '10000' },
    'heartbeat-s': { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    'no-rules': { type: 'boolean', default: false },
    'rules-only': { type: 'boolean', default: false },
    probes: { type: 'string' },
    'seed-rows': { type: 'string', default: '10000000' },
    'no-write': { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO_ROOT, 'BENCHMARKS.md') },
  },
})

const SITE = 'bench'
const cfg: BenchConfig = {
  quick: flags.quick,
  connections: Number(flags.connections),
  window: 100,
  ingestRuns: flags.quick ? 1 : 3,
  ingestMs: flags.quick ? 4000 : 10_000,
  latencyRate: 5000,
  latencyMs: flags.quick ? 5000 : 10_000,
  rates: [1000, 5000, 10_000],
  rateRuns: flags.quick ? 1 : 3,
  rateMs: flags.quick ? 3000 : 4000,
}
const httpCfg: HttpBenchConfig = { runs: flags.quick ? 1 : 3, httpMs: flags.quick ? 3000 : 5000, connections: 4, ingestRate: 5000 }
const rulesCfg: RulesBenchConfig = {
  ratioRuns: flags.quick ? 2 : 3,
  probeSpanMs: flags.quick ? 12_000 : 40_000,
  probes: Number(flags.probes ?? (flags.quick ? 100 : 200)),
}
const influxCfg: InfluxBenchConfig = {
  backlogMsgs: flags.quick ? 100_000 : 500_000,
  backlogRate: 50_000,
  lagRate: 10_000,
  lagMs: flags.quick ? 10_000 : 30_000,
  sampleMs: 250,
  ratioRuns: flags.quick ? 1 : 3,
}
const analyticsCfg: AnalyticsBenchConfig = {
  skus: 1000,
  days: 730,
  horizon: 28,
  speedRuns: flags.quick ? 1 : 3,
  ingestRuns: flags.quick ? 1 : 3,
  ingestRate: 5000,
  ingestMs: flags.quick ? 5000 : 10_000,
}
const uiCfg: UiBenchConfig = { paintLoads: flags.quick ? 3 : 10, apiMs: flags.quick ? 4000 : 10_000, ingestRate: 5000, clients: 4 }
const noderedCfg: NodeRedBenchConfig = {
  runs: flags.quick ? 2 : 5,
  settleMs: 3000,
  ingestRuns: flags.quick ? 1 : 3,
  ingestRate: 2000,
  ingestMs: flags.quick ? 5000 : 10_000,
}
const hqCfg: HqBenchConfig = {
  series: 1000,
  pullRuns: flags.quick ? 1 : 3,
  compare: !flags.quick,
  ingestRuns: flags.quick ? 1 : 2,
  ingestRate: 5000,
  ingestMs: flags.quick ? 5000 : 10_000,
}
if (!(Number.isInteger(rulesCfg.probes) && rulesCfg.probes > 0)) {
  process.stderr.write(`--probes must be a whole number above 0, got ${flags.probes}\n`)
  process.exit(2)
}
const SCENARIOS = ['ingest', 'rates', 'http', 'conns', 'rules', 'influx', 'analytics', 'ui', 'nodered', 'hq', 'growth'] as const
type Scenario = (typeof SCENARIOS)[number]
const QUICK: Scenario[] = ['ingest', 'rates', 'http', 'conns']
const only = new Set<Scenario>(
  flags.only ? (flags.only.split(',').map((s) => s.trim()) as Scenario[]) : flags['rules-only'] ? ['rules'] : flags.quick ? QUICK : SCENARIOS,
)
if (flags['no-rules']) only.delete('rules')
const unknown = [...only].filter((s) => !SCENARIOS.includes(s))
if (unknown.length) {
  process.stderr.write(`--only: unknown scenario ${unknown.join(', ')}; scenarios: ${SCENARIOS.join(', ')}\n`)
  process.exit(2)
}
const skippedQuick = flags.quick && !flags.only && !flags['rules-only'] ? SCENARIOS.filter((s) => !only.has(s) && !(s === 'rules' && flags['no-rules'])) : []
const wanted = new Set(flags.targets.split(',').map((s) => s.trim()) as TargetName[])
const wantRules = only.has('rules')
const connsCfg: ConnsBenchConfig = {
  devices: Number(flags.devices),
  intervalMs: Number(flags['heartbeat-s']) * 1000,
  durationMs: flags.quick ? 10_000 : 12_000,
  runs: flags.quick ? 1 : 3,
  baselines: !flags.quick,
  targets: wanted,
}
if (!(Number.isInteger(connsCfg.devices) && connsCfg.devices > 0) || !(connsCfg.intervalMs >= 1000)) {
  process.stderr.write(`--devices must be a whole number above 0 and --heartbeat-s at least 1\n`)
  process.exit(2)
}
const log = (s: string): void => void process.stderr.write(s + '\n')

// Whatever is running gets stopped if we are interrupted.
const active = new Set<Target>()
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`\n${sig}: stopping ${[...active].map((t) => t.label).join(', ') || 'nothing'}`)
    void Promise.allSettled([...active].map((t) => t.stop())).finally(() => process.exit(130))
  })
}

const figures: Partial<Record<TargetName, TargetFigures>> = {}
const labels: Record<TargetName, string> = { aedes: 'bare aedes', mosquitto: 'mosquitto', gateway: 'stockyard gateway' }
const notes: string[] = []
const starters: Record<TargetName, () => Promise<Started>> = {
  aedes: () => startAedes(cfg.connections, SITE),
  mosquitto: () => startMosquitto(cfg.connections, SITE),
  gateway: () => startGateway(cfg.connections, SITE, gatewayDataDir()),
}

/** Start a target, run `body` against it, stop it; failures become notes, never crashes. */
async function withTarget<T>(name: TargetName, start: () => Promise<Started>, body: (t: Target) => Promise<T>): Promise<T | null> {
  log(`${name}: starting`)
  const started = await start()
  if (!started.ok) {
    log(`${name}: ${started.reason}`)
    notes.push(`${labels[name]}: ${started.reason}`)
    return null
  }
  active.add(started.target)
  labels[name] = started.target.label
  try {
    return await body(started.target)
  } catch (err) {
    log(`${name}: failed: ${(err as Error).message}`)
    notes.push(`${labels[name]}: failed: ${(err as Error).message.split('\n')[0]}`)
    return null
  } finally {
    await started.target.stop()
    active.delete(started.target)
  }
}

const t0 = Date.now()
// Two cores: one for the broker, one for the generator. Anything else running skews every figure.
const busyAtStart = await machineBusyCores(1000)
if (busyAtStart > 0.25) {
  log(`warning: the machine is already busy (${busyAtStart.toFixed(2)} cores in use before the bench); figures will be low and noisy`)
  notes.push(`the machine was busy before the start (${busyAtStart.toFixed(2)} cores used by other processes): figures are disturbed; rerun on an idle machine`)
}
if (skippedQuick.length) {
  log(`--quick: skipping ${skippedQuick.join(', ')} (run them with --only ${skippedQuick.join(',')})`)
  notes.push(`--quick skipped: ${skippedQuick.join(', ')}; the conns scenario ran against the gateway only (no baselines), 1 run each`)
}
const vitals: Array<{ scenario: string; vitals: Vitals }> = []
for (const name of COLUMNS) {
  if (!wanted.has(name)) continue
  const doHttp = name === 'gateway' && only.has('http')
  if (!only.has('ingest') && !only.has('rates') && !doHttp) continue
  const f = await withTarget(name, starters[name], async (t): Promise<TargetFigures> => {
    const before = await t.counters()
    const v: Record<string, Vitals> = {}
    const watch = async <T>(key: string, body: () => Promise<T>): Promise<T> => {
      const r = await withVitals(t, body)
      v[key] = r.vitals
      return r.value
    }
    const ingest = only.has('ingest') ? await watch('ingest', () => maxIngest(t, cfg, log)) : null
    const rates = only.has('rates') ? await watch('rates', () => latencyAtRates(t, cfg, log)) : null
    const http = doHttp ? await watch('http', () => httpUnderIngest(t, cfg, httpCfg, log)) : null
    const after = await t.counters()
    return { ingest, rates, http, vitals: v, counters: after && diff(after, before) }
  })
  if (f) figures[name] = f
}
const gv = figures.gateway?.vitals ?? {}
if (gv.ingest) vitals.push({ scenario: `Max QoS 1 ingest (warm-up + ${cfg.ingestRuns} × ${cfg.ingestMs / 1000} s)`, vitals: gv.ingest })
if (gv.rates)
  vitals.push({
    scenario: `Ack latency at ${cfg.rates.map((r) => r.toLocaleString('en-US')).join(' / ')} msg/s (${cfg.rateRuns} × ${cfg.rateMs / 1000} s each)`,
    vitals: gv.rates,
  })
if (gv.http) vitals.push({ scenario: `HTTP queries under ${fmtRate(httpCfg.ingestRate)} msg/s ingest`, vitals: gv.http })

let conns: ConnsFigures | null = null
if (only.has('conns')) {
  conns = await connsBench(connsCfg, SITE, log, active)
  const runs = conns.runs.gateway ?? []
  if (runs.length)
    vitals.push({
      scenario: `${conns.devices.toLocaleString('en-US')} connections with heartbeats (worst run)`,
      vitals: worstVitals(runs.map((r) => r.vitals)),
    })
}

let rules: RuleFigures | null = null
if (wantRules) rules = await ruleEngineBench(cfg, rulesCfg, SITE, log, active)

let influx: InfluxFigures | null = null
if (only.has('influx')) {
  try {
    influx = await influxBench(cfg, influxCfg, SITE, log, active)
  } catch (err) {
    // influxd missing under CI=true: the bench fails (the report still says why).
    log(`influx: ${(err as Error).message}`)
    notes.push(`InfluxDB scenario: ${(err as Error).message.split('\n')[0]}`)
    process.exitCode = 1
  }
  if (influx) {
    vitals.push(...influx.vitals)
    if (influx.failed.length) process.exitCode = 1 // said again at the end, after the report
  }
}

let analytics: AnalyticsFigures | null = null
if (only.has('analytics')) {
  try {
    analytics = await analyticsBench(cfg, analyticsCfg, SITE, log)
  } catch (err) {
    log(`analytics: ${(err as Error).message}`)
    notes.push(`analytics scenario: ${(err as Error).message.split('\n')[0]}`)
    process.exitCode = 1
  }
}

let ui: UiFigures | null = null
if (only.has('ui')) {
  try {
    ui = await uiBench(cfg, uiCfg, SITE, log)
  } catch (err) {
    log(`ui: ${(err as Error).message}`)
    notes.push(`dashboards scenario: ${(err as Error).message.split('\n')[0]}`)
    process.exitCode = 1
  }
}

let nodered: NodeRedFigures | null = null
if (only.has('nodered')) {
  try {
    nodered = await nodeRedBench(cfg, noderedCfg, SITE, log)
  } catch (err) {
    log(`nodered: ${(err as Error).message}`)
    notes.push(`Node-RED scenario: ${(err as Error).message.split('\n')[0]}`)
    process.exitCode = 1
  }
}

let hq: HqFigures | null = null
if (only.has('hq')) {
  try {
    hq = await hqBench(cfg, hqCfg, SITE, log)
  } catch (err) {
    log(`hq: ${(err as Error).message}`)
    notes.push(`HQ pull scenario: ${(err as Error).message.split('\n')[0]}`)
    process.exitCode = 1
  }
}

let growth = only.has('growth') ? 'not run (gateway not among --targets)' : cfg.quick ? 'skipped (--quick)' : 'not run (not among --only)'
if (only.has('growth') && wanted.has('gateway')) growth = await storeGrowth(Number(flags['seed-rows']))

const rows = brokerRows(figures, cfg)
const md = rows.length ? table(rows, labels) : ''
const section = render(md)
process.stdout.write(`\n${section}\n`)
if (!flags['no-write']) {
  writeSection(flags.out, sectionKey(), section)
  log(`written to ${flags.out}`)
}
log(`bench took ${Math.round((Date.now() - t0) / 1000)} s`)
for (const why of influx?.failed ?? []) log(`FAILED (influx): ${why}`)

/** Store growth: seed the gateway's data dir, then the same max-ingest runs; compare to the empty-store median. */
async function storeGrowth(rows: number): Promise<string> {
  const empty = figures.gateway?.ingest?.median
  if (empty === undefined) return 'not run (needs the ingest scenario on the gateway first)'
  const dir = gatewayDataDir()
  log(`store growth: seeding ${rows.toLocaleString('en-US')} rows into ${dir}`)
  const seeded = await seedRows(dir, rows, { site: SITE, maxMs: 30 * 60_000, onProgress: (n) => log(`  seeded ${n.toLocaleString('en-US')} rows`) })
  if (!seeded.ok) {
    rmSync(dir, { recursive: true, force: true })
    return seeded.reason
  }
  log(`  seeded ${seeded.rows.toLocaleString('en-US')} rows in ${Math.round(seeded.ms / 1000)} s`)
  const f = await withTarget(
    'gateway',
    () => startGateway(cfg.connections, SITE, dir),
    (t) => withVitals(t, () => maxIngest(t, cfg, log)),
  )
  if (!f) return 'not run (the seeded gateway failed; see notes)'
  vitals.push({ scenario: `Store growth: max ingest with ${seeded.rows.toLocaleString('en-US')} rows stored`, vitals: f.vitals })
  const pct = (100 * f.value.median) / empty
  const other = (runs: RunFigures[]): string => Math.max(...runs.map((r) => r.otherCpuCores)).toFixed(2)
  return (
    `${fmtRate(f.value.median)} msg/s (median of ${f.value.runs.length}) with ${seeded.rows.toLocaleString('en-US')} rows stored vs ${fmtRate(empty)} msg/s on an empty store ` +
    `= **${pct.toFixed(1)} %** (target ≥ 90 %: ${pct >= 90 ? 'PASS' : 'FAIL'}); seeding took ${Math.round(seeded.ms / 1000)} s; ` +
    `other processes used up to ${other(f.value.runs)} cores during the seeded runs, ${other(figures.gateway!.ingest!.runs)} during the empty-store runs`
  )
}

function render(md: string): string {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown'
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  const unacked = COLUMNS.flatMap((c) => {
    const f = figures[c]
    const n = f ? allRuns(f).reduce((s, run) => s + run.load.unacked, 0) : 0
    return n ? [`${labels[c]}: ${n} messages never acknowledged`] : []
  })
  const counters = figures.gateway?.counters
  const disturbed = COLUMNS.flatMap((c) => {
    const f = figures[c]
    const other = f ? Math.max(0, ...allRuns(f).map((run) => run.otherCpuCores)) : 0
    return other > 0.2 ? [`${labels[c]}: other processes used up to ${other.toFixed(2)} cores during its runs`] : []
  })
  const lines = [
    `## \`${command}\` — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `- Machine: ${os.availableParallelism()} × ${model} (\`nproc\` = ${os.availableParallelism()}), ${num(os.totalmem() / 2 ** 30, 1)} GiB RAM, Linux ${os.release()}`,
    `- Node ${process.version}`,
    `- Command: \`${command}\``,
    `- Load: ${cfg.connections} connections (one per device), at most ${cfg.window} un-acked QoS 1 PUBLISHes each, \`reading\` payloads of ~92 B (136 B packets) on \`stockyard/v1/${SITE}/{device}/reading\`; ` +
      `the generator (simulators/loadgen, pre-encoded packets on raw sockets) runs in its own process; the gateway column runs with an empty rules dir of its own. Max ingest: a 3 s warm-up, then ${cfg.ingestRuns} × ${cfg.ingestMs / 1000} s; ack latency (publish write → PUBACK read): ` +
      `${cfg.rates.map((r) => r.toLocaleString('en-US')).join(', ')} msg/s, ${cfg.rateRuns} × ${cfg.rateMs / 1000} s each (rates in turn). Cells: median (min–max) when there are several runs; ratios of medians.`,
    `- Scenarios: ${[...only].join(', ')}`,
    '',
    ...(md ? [md, ''] : []),
    ...(brokerTargets(figures).length ? [...brokerTargets(figures), ''] : []),
    ...(figures.gateway?.http ? [...renderHttp(figures.gateway.http, httpCfg, cfg.connections, ackP99(httpCfg.ingestRate)), ''] : []),
    ...(conns ? [...renderConns(conns, connsCfg), ''] : []),
    ...(vitals.length ? [...renderVitals(vitals), ''] : []),
    ...(rules ? [...renderRules(rules, cfg, rulesCfg), ''] : []),
    ...(influx ? [...renderInflux(influx, cfg, influxCfg), ''] : []),
    ...(analytics ? [...renderAnalytics(analytics, analyticsCfg), ''] : []),
    ...(ui ? [...renderUi(ui, uiCfg), ''] : []),
    ...(nodered ? [...renderNodeRed(nodered, noderedCfg, cfg), ''] : []),
    ...(hq ? [...renderHq(hq, hqCfg), ''] : []),
    `Store growth (gateway): ${growth}`,
    ...(notes.length || unacked.length || disturbed.length || counters ? ['', 'Notes:'] : []),
    ...notes.map((n) => `- ${n}`),
    ...disturbed.map((n) => `- ${n}`),
    ...unacked.map((n) => `- ${n}`),
    ...(counters
      ? [
          `- Gateway counters over its scenarios: ${
            Object.entries(counters)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || 'none'
          }`,
        ]
      : []),
  ]
  return lines.join('\n')
}

/**
 * The BENCHMARKS.md section this command owns: `full` / `quick` for the whole bench, else one per
 * scenario list (`full:only-influx`), so a partial run never replaces the whole bench's tables.
 */
function sectionKey(): string {
  const mode = cfg.quick ? 'quick' : 'full'
  return flags.only || flags['rules-only'] ? `${mode}:only-${[...only].sort().join(',')}` : mode
}

function diff(after: Record<string, number>, before: Record<string, number> | null): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before?.[k] ?? 0)]))
}

/** The gateway's median ack p99 at `rate` from the rates scenario, if it ran at that rate. */
function ackP99(rate: number): number | null {
  const runs = figures.gateway?.rates?.get(rate)
  return runs?.length ? spread(runs.map((r: RunFigures) => r.load.latencyMs.p99)).median : null
}

/** Over several runs: the highest RSS peak, the worst lag figures. */
function worstVitals(vs: Vitals[]): Vitals {
  const worst = (pick: (v: Vitals) => number | null): number | null => {
    const xs = vs.map(pick).filter((x): x is number => x !== null)
    return xs.length ? Math.max(...xs) : null
  }
  return {
    rssPeakMb: Math.max(...vs.map((v) => v.rssPeakMb)),
    lagMaxMs: worst((v) => v.lagMaxMs),
    lagP99Ms: worst((v) => v.lagP99Ms),
    lagWorstP99Ms: worst((v) => v.lagWorstP99Ms),
    windows: vs.reduce((s, v) => s + v.windows, 0),
  }
}
