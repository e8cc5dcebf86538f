/**
 * `npm run bench` — QoS 1 ingest and ack latency of bare aedes, mosquitto and the Stockyard
 * gateway on this machine, the rule engine's figures (publish-to-alert latency with 200 rules, and
 * ingest with those rules over ingest without), plus (full run only) the store-growth check. Prints
 * the tables and keeps them in BENCHMARKS.md.
 *
 *   npm run bench                  full: 3 x 10 s max-ingest runs, 10 s at 5,000 msg/s, rules (3 + 3 interleaved runs, 200 probes), store growth
 *   npm run bench -- --quick       <= 3 min: 1 x 5 s, 5 s at 5,000 msg/s, rules (2 + 2 runs, 100 probes after a 30 s fill), no store growth
 * Flags: --targets aedes,mosquitto,gateway  --no-rules  --rules-only  --probes N  --connections 8  --seed-rows 10000000  --no-write  --out FILE
 */
import { readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { REPO_ROOT } from './paths.ts'
import { machineBusyCores } from './proc.ts'
import { COLUMNS, num, table, writeSection, type Row } from './report.ts'
import { renderRules, ruleEngineBench, type RuleFigures, type RulesBenchConfig } from './rules-scenario.ts'
import { fmtRate, latencyAtRate, maxIngest, type BenchConfig, type IngestFigures, type RunFigures } from './scenarios.ts'
import { seedRows } from './seed.ts'
import { startAedes } from './targets/aedes.ts'
import { gatewayDataDir, startGateway } from './targets/gateway.ts'
import { startMosquitto } from './targets/mosquitto.ts'
import type { Started, Target, TargetName } from './targets/types.ts'

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string', default: COLUMNS.join(',') },
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
  ingestMs: flags.quick ? 5000 : 10_000,
  latencyRate: 5000,
  latencyMs: flags.quick ? 5000 : 10_000,
}
const rulesCfg: RulesBenchConfig = {
  ratioRuns: flags.quick ? 2 : 3,
  probeSpanMs: flags.quick ? 12_000 : 40_000,
  probes: Number(flags.probes ?? (flags.quick ? 100 : 200)),
}
if (!(Number.isInteger(rulesCfg.probes) && rulesCfg.probes > 0)) {
  process.stderr.write(`--probes must be a whole number above 0, got ${flags.probes}\n`)
  process.exit(2)
}
const wanted = new Set(flags['rules-only'] ? [] : (flags.targets.split(',').map((s) => s.trim()) as TargetName[]))
const wantRules = !flags['no-rules']
const log = (s: string): void => void process.stderr.write(s + '\n')

// Whatever is running gets stopped if we are interrupted.
const active = new Set<Target>()
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`\n${sig}: stopping ${[...active].map((t) => t.label).join(', ') || 'nothing'}`)
    void Promise.allSettled([...active].map((t) => t.stop())).finally(() => process.exit(130))
  })
}

interface TargetFigures {
  ingest: IngestFigures
  latency: RunFigures
  counters: Record<string, number> | null
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
for (const name of COLUMNS) {
  if (!wanted.has(name)) continue
  const f = await withTarget(name, starters[name], async (t) => {
    const before = await t.counters()
    const ingest = await maxIngest(t, cfg, log)
    const latency = await latencyAtRate(t, cfg, log)
    const after = await t.counters()
    return { ingest, latency, counters: after && diff(after, before) }
  })
  if (f) figures[name] = f
}

let rules: RuleFigures | null = null
if (wantRules) rules = await ruleEngineBench(cfg, rulesCfg, SITE, log, active)

let growth = cfg.quick ? 'skipped (--quick)' : 'not run (gateway not among --targets)'
if (!cfg.quick && wanted.has('gateway')) growth = await storeGrowth(Number(flags['seed-rows']))

const rows = buildRows()
const md = table(rows, labels)
const section = render(md)
process.stdout.write(`\n${section}\n`)
if (!flags['no-write']) {
  writeSection(flags.out, cfg.quick ? 'quick' : 'full', section)
  log(`written to ${flags.out}`)
}
log(`bench took ${Math.round((Date.now() - t0) / 1000)} s`)

/** Store growth: seed the gateway's data dir, then the same max-ingest runs; compare to the empty-store median. */
async function storeGrowth(rows: number): Promise<string> {
  const empty = figures.gateway?.ingest.median
  if (empty === undefined) return 'not run (the gateway was unavailable)'
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
    (t) => maxIngest(t, cfg, log),
  )
  if (!f) return 'not run (the seeded gateway failed; see notes)'
  const pct = (100 * f.median) / empty
  const other = (runs: RunFigures[]): string => Math.max(...runs.map((r) => r.otherCpuCores)).toFixed(2)
  return (
    `${fmtRate(f.median)} msg/s (median of ${f.runs.length}) with ${seeded.rows.toLocaleString('en-US')} rows stored vs ${fmtRate(empty)} msg/s on an empty store ` +
    `= **${pct.toFixed(1)} %** (target ≥ 90 %: ${pct >= 90 ? 'PASS' : 'FAIL'}); seeding took ${Math.round(seeded.ms / 1000)} s; ` +
    `other processes used up to ${other(f.runs)} cores during the seeded runs, ${other(figures.gateway!.ingest.runs)} during the empty-store runs`
  )
}

function buildRows(): Row[] {
  const pick = (f: (x: TargetFigures) => number): Partial<Record<TargetName, number>> =>
    Object.fromEntries(COLUMNS.filter((c) => figures[c]).map((c) => [c, f(figures[c]!)]))
  const rangeCells = Object.fromEntries(
    COLUMNS.filter((c) => figures[c]).map((c) => {
      const i = figures[c]!.ingest
      return [c, i.runs.length > 1 ? `${fmtRate(i.median)} (${fmtRate(i.min)}–${fmtRate(i.max)})` : fmtRate(i.median)]
    }),
  )
  const r = cfg.latencyRate.toLocaleString('en-US')
  const maxOf = (xs: RunFigures[], f: (x: RunFigures) => number): number => Math.max(...xs.map(f))
  return [
    {
      figure: `Max QoS 1 ingest, msg/s (median${cfg.ingestRuns > 1 ? ` of ${cfg.ingestRuns} [min–max]` : ''})`,
      values: pick((x) => x.ingest.median),
      cells: rangeCells,
    },
    { figure: `Ack latency p50 @ ${r} msg/s, ms`, values: pick((x) => x.latency.load.latencyMs.p50), digits: 2 },
    { figure: `Ack latency p99 @ ${r} msg/s, ms`, values: pick((x) => x.latency.load.latencyMs.p99), digits: 2 },
    { figure: `Ack latency max @ ${r} msg/s, ms`, values: pick((x) => x.latency.load.latencyMs.max), digits: 1 },
    { figure: `Achieved rate @ ${r} msg/s`, values: pick((x) => x.latency.load.rate) },
    { figure: 'Broker CPU at max ingest, cores', values: pick((x) => median(x.ingest.runs.map((run) => run.brokerCpuCores))), digits: 2 },
    {
      figure: 'Broker peak RSS, MiB',
      values: pick((x) =>
        Math.max(
          maxOf(x.ingest.runs, (run) => run.brokerRssPeakMb),
          x.latency.brokerRssPeakMb,
        ),
      ),
    },
    { figure: 'Generator CPU at max ingest, cores', values: pick((x) => maxOf(x.ingest.runs, (run) => run.load.cpuCores)), digits: 2 },
  ]
}

function render(md: string): string {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown'
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  const unacked = COLUMNS.flatMap((c) => {
    const f = figures[c]
    const n = f ? [...f.ingest.runs, f.latency].reduce((s, run) => s + run.load.unacked, 0) : 0
    return n ? [`${labels[c]}: ${n} messages never acknowledged`] : []
  })
  const counters = figures.gateway?.counters
  const disturbed = COLUMNS.flatMap((c) => {
    const f = figures[c]
    const other = f ? Math.max(...[...f.ingest.runs, f.latency].map((run) => run.otherCpuCores)) : 0
    return other > 0.2 ? [`${labels[c]}: other processes used up to ${other.toFixed(2)} cores during its runs`] : []
  })
  const lines = [
    `## \`${command}\` — ${new Date().toISOString().slice(0, 10)}`,
    '',
    `- Machine: ${os.availableParallelism()} × ${model} (\`nproc\` = ${os.availableParallelism()}), ${num(os.totalmem() / 2 ** 30, 1)} GiB RAM, Linux ${os.release()}`,
    `- Node ${process.version}`,
    `- Command: \`${command}\``,
    `- Load: ${cfg.connections} connections (one per device), at most ${cfg.window} un-acked QoS 1 PUBLISHes each, \`reading\` payloads of ~92 B (136 B packets) on \`stockyard/v1/${SITE}/{device}/reading\`; ` +
      `the generator (simulators/loadgen, pre-encoded packets on raw sockets) runs in its own process; the gateway column runs with an empty rules dir of its own. Max ingest: a 3 s warm-up, then ${cfg.ingestRuns} × ${cfg.ingestMs / 1000} s; latency: ${cfg.latencyRate.toLocaleString('en-US')} msg/s for ${cfg.latencyMs / 1000} s, publish write → PUBACK read.`,
    '',
    ...(wanted.size ? [md, ''] : []),
    ...(rules ? [...renderRules(rules, cfg, rulesCfg), ''] : []),
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

function diff(after: Record<string, number>, before: Record<string, number> | null): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before?.[k] ?? 0)]))
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}
