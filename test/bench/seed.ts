/**
 * Seeding a gateway data dir with stored rows before the gateway starts, for the store-growth
 * scenario ("the insert rate with 10 M rows stored is >= 90 % of the rate on an empty store").
 * Goes through the store's own `openSqliteStore(...).series.append`, so the rows, rollups and
 * marks look exactly like ingested ones. Seeded messages carry no (seq, ts) keys: we measure the
 * growth of the point table, not of the duplicate-detection log.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Accepted } from '../../gateway/core/records.ts'
import type { SeriesStore } from '../../gateway/store/types.ts'
import { REPO_ROOT } from './paths.ts'

const STORE_MODULE = join(REPO_ROOT, 'gateway/store/sqlite/index.ts')
const SEED_DEVICES = 100
const MESSAGES_PER_APPEND = 5000
const DAY = 86_400_000

/** The part of the store module the seeder uses (typed here so the bench compiles without it). */
interface StoreModule {
  openSqliteStore(opts: { dataDir: string; synchronous: 'NORMAL' | 'FULL'; writer?: boolean }): {
    series: Pick<SeriesStore, 'append' | 'countPoints'>
    close(): void
  }
}

export type SeedResult = { ok: true; rows: number; ms: number } | { ok: false; reason: string }

/**
 * Append `n` raw points (2 per reading: temperature and humidity, 100 devices, spread over the last
 * 10 days so raw retention leaves them alone) to the store in `dataDir`. Gives up after `maxMs`.
 */
export async function seedRows(dataDir: string, n: number, opts: { site: string; maxMs: number; onProgress?: (rows: number) => void }): Promise<SeedResult> {
  if (!existsSync(STORE_MODULE)) return { ok: false, reason: 'seeding unavailable (gateway/store/sqlite/index.ts not written yet)' }
  let mod: StoreModule
  try {
    mod = (await import(pathToFileURL(STORE_MODULE).href)) as StoreModule
    if (typeof mod.openSqliteStore !== 'function') throw new Error('no openSqliteStore export')
  } catch (err) {
    return { ok: false, reason: `seeding unavailable (${(err as Error).message})` }
  }
  const t0 = Date.now()
  const store = mod.openSqliteStore({ dataDir, synchronous: 'NORMAL', writer: true })
  try {
    const messages = Math.ceil(n / 2)
    const perDevice = Math.ceil(messages / SEED_DEVICES)
    const start = t0 - 10 * DAY
    const step = Math.max(1, Math.floor((10 * DAY - 3_600_000) / perDevice))
    let m = 0
    let lastReport = 0
    // Bounded: `messages` in total, and no longer than maxMs.
    while (m < messages) {
      if (Date.now() - t0 > opts.maxMs) return { ok: false, reason: `seeding stopped after ${opts.maxMs} ms at ${m * 2} rows` }
      const accepted: Accepted[] = []
      for (const end = Math.min(messages, m + MESSAGES_PER_APPEND); m < end; m++) {
        const device = `seed-${m % SEED_DEVICES}`
        const ts = start + Math.floor(m / SEED_DEVICES) * step
        const labels = { site: opts.site, zone: 'z1', device, sku: '' }
        accepted.push({
          device,
          site: opts.site,
          kind: 'reading',
          points: [
            { metric: 'temperature_c', labels, ts, value: 4 + (m % 7) / 10 },
            { metric: 'humidity_pct', labels, ts, value: 55 + (m % 11) },
          ],
          events: [],
          keys: [],
        })
      }
      store.series.append({ accepted, rejections: [] })
      if (opts.onProgress && m * 2 - lastReport >= 1_000_000) {
        lastReport = m * 2
        opts.onProgress(lastReport)
      }
    }
    return { ok: true, rows: store.series.countPoints({}), ms: Date.now() - t0 }
  } finally {
    store.close()
  }
}
