/**
 * Store-only growth benchmark: the append rate of the embedded store as it fills to `--rows` points,
 * without broker, decoding or threads in the way (the gateway-level scenario in run.ts is noisier than
 * the effect). Batches of 200 messages of 2 points each, one dedup key per message, rollups flushed every
 * 100 batches as the gateway's 1 s timer would at ~20k msg/s.
 *
 *   node --import tsx test/bench/store-growth.ts [--rows 10000000]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Accepted } from '../../gateway/core/records.ts'
import { openSqliteStore } from '../../gateway/store/sqlite/index.ts'

const { values } = parseArgs({ options: { rows: { type: 'string', default: '10000000' } } })
const rows = Number(values.rows)
const BATCH = 200
const ROUND = 200_000 // messages per measured round (400k points)
const DEVICES = 100

const dir = mkdtempSync(join(tmpdir(), 'stockyard-store-growth-'))
const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', writer: true })
const now = Date.now()
let seq = 0

function batch(): { accepted: Accepted[]; rejections: [] } {
  const accepted: Accepted[] = []
  for (let i = 0; i < BATCH; i++, seq++) {
    const device = `d${seq % DEVICES}`
    const ts = now - 3_600_000 + Math.floor(seq / DEVICES)
    const labels = { site: 's', zone: 'z', device, sku: '' }
    accepted.push({
      device,
      site: 's',
      kind: 'reading',
      points: [
        { metric: 'temperature_c', labels, ts, value: (seq % 100) / 10 },
        { metric: 'humidity_pct', labels, ts, value: 50 + (seq % 20) },
      ],
      events: [],
      keys: [{ seq, ts, points: [0, 2], events: [0, 0] }],
    })
  }
  return { accepted, rejections: [] }
}

const rates: number[] = []
try {
  for (let stored = 0; stored < rows; stored += ROUND * 2) {
    const t0 = performance.now()
    for (let b = 0; b < ROUND / BATCH; b++) {
      store.series.append(batch())
      if (b % 100 === 99) store.series.flushRollups()
    }
    const rate = (ROUND / (performance.now() - t0)) * 1000
    rates.push(rate)
    process.stdout.write(`${((stored + ROUND * 2) / 1e6).toFixed(1)} M points: ${Math.round(rate).toLocaleString('en-US')} msg/s\n`)
  }
} finally {
  store.close()
  rmSync(dir, { recursive: true, force: true })
}
// First rounds after a one-round warm-up against the last rounds.
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const early = median(rates.slice(1, 6))
const late = median(rates.slice(-5))
process.stdout.write(
  `early (rounds 2-6) ${Math.round(early).toLocaleString('en-US')} msg/s, last 5 rounds ${Math.round(late).toLocaleString('en-US')} msg/s: ${((late / early) * 100).toFixed(1)} %\n`,
)
