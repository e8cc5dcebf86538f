/**
 * The rule runtime alone (no broker, no ingest decode, no threads): the bench's rule pack
 * (rule-pack.ts) gets the generator's readings in group-commit batches, as the ingest worker hands
 * them over after each commit, on a manual clock that moves at the simulated rate. Prints the cost
 * per message for each 10 simulated seconds (the windows fill over the first 30 s), for the pack and
 * for an empty rules dir, so the engine's own cost can be followed without the noise of a whole gateway.
 *
 *   node --import tsx test/bench/rule-engine.ts [--rate 20000] [--seconds 70] [--batch 20] [--devices 8] [--pack bench|empty|both]
 *
 * Profile it with `node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx test/bench/rule-engine.ts --pack bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { loadConfig } from '../../gateway/config/load.ts'
import { ManualClock } from '../../gateway/core/clock.ts'
import { createLogger } from '../../gateway/core/log.ts'
import type { Accepted, PointRecord, SeriesLabels } from '../../gateway/core/records.ts'
import { RuleRuntime } from '../../gateway/rules/runtime.ts'
import { openSqliteStore } from '../../gateway/store/sqlite/index.ts'
import { BENCH_ZONES, benchRulesDir, emptyRulesDir } from './rule-pack.ts'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '70' },
    batch: { type: 'string', default: '20' },
    devices: { type: 'string', default: '8' },
    pack: { type: 'string', default: 'both' },
  },
})
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)
const BATCH = Number(values.batch)
const DEVICES = Number(values.devices)
const SITE = 'bench'

interface Round {
  simulatedS: number
  usPerMessage: number
}

/** Run `SECONDS` simulated seconds against a rules dir; the cost per message per 10 simulated seconds. */
async function runPack(rulesDir: string): Promise<{ rounds: Round[]; rules: number; notices: number; heapMb: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'stockyard-bench-engine-'))
  const t0 = Date.now()
  const clock = new ManualClock(t0)
  const config = loadConfig({ overrides: { site: SITE, dataDir: join(dir, 'data'), log: { level: 'silent' }, rules: { dir: rulesDir, watch: false } } })
  const store = openSqliteStore({ dataDir: config.dataDir, synchronous: 'NORMAL', writer: true, now: () => clock.now() })
  let notices = 0
  const runtime = new RuleRuntime({
    db: store.db,
    config,
    series: store.series,
    devices: store.devices,
    clock,
    log: createLogger('silent'),
    publish: (n) => (notices += n.length),
  })
  try {
    const labels: SeriesLabels[] = []
    for (let i = 0; i < DEVICES; i++) {
      const zone = BENCH_ZONES[i % BENCH_ZONES.length]!
      await store.devices.add({ id: `bench-dev-${i}`, kind: 'env', site: SITE, zone })
      labels.push({ site: SITE, zone, device: `bench-dev-${i}`, sku: '' })
    }
    runtime.start()
    const rules = runtime.describe().packs.reduce((n, p) => n + p.rules.length, 0)
    const rounds: Round[] = []
    const stepMs = (BATCH * 1000) / RATE
    let sim = 0
    let msgs = 0
    let busy = 0
    let k = 0
    while (sim < SECONDS * 1000) {
      const ts = Math.floor(t0 + sim)
      const accepted: Accepted[] = []
      for (let m = 0; m < BATCH; m++, k++) {
        const l = labels[k % DEVICES]!
        const points: PointRecord[] = [
          { metric: 'temperature_c', labels: l, ts, value: 4.2 },
          { metric: 'humidity_pct', labels: l, ts, value: 61 },
        ]
        accepted.push({ device: l.device, site: SITE, kind: 'reading', points, events: [], keys: [] })
      }
      const start = performance.now()
      runtime.onBatch(accepted)
      clock.set(t0 + sim + stepMs)
      busy += performance.now() - start
      msgs += BATCH
      sim += stepMs
      if (Math.floor(sim / 10_000) > rounds.length) {
        rounds.push({ simulatedS: Math.round(sim / 1000), usPerMessage: (busy * 1000) / msgs })
        busy = 0
        msgs = 0
      }
    }
    return { rounds, rules, notices, heapMb: process.memoryUsage().heapUsed / 2 ** 20 }
  } finally {
    await runtime.close()
    store.close()
    rmSync(dir, { recursive: true, force: true })
    rmSync(rulesDir, { recursive: true, force: true })
  }
}

const log = (s: string): void => void process.stdout.write(s + '\n')
log(`${RATE.toLocaleString('en-US')} msg/s simulated for ${SECONDS} s, batches of ${BATCH}, ${DEVICES} devices, 2 points per message`)
const results: Array<[string, Awaited<ReturnType<typeof runPack>>]> = []
if (values.pack !== 'empty') results.push(['bench pack', await runPack(benchRulesDir(DEVICES).dir)])
if (values.pack !== 'bench') results.push(['empty rules dir', await runPack(emptyRulesDir())])
for (const [name, r] of results) {
  log(`\n${name}: ${r.rules} rules, ${r.notices} alert changes, heap ${Math.round(r.heapMb)} MiB at the end`)
  log('| simulated s | µs per message (runtime.onBatch + clock) |')
  log('|---:|---:|')
  for (const x of r.rounds) log(`| ${x.simulatedS} | ${x.usPerMessage.toFixed(2)} |`)
}
