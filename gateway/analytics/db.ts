/**
 * The analytics database: `DATA_DIR/analytics.db`, a SQLite file of its own beside the store. The
 * analytics worker is its only writer; the HTTP API and the rule runtime read it. Keeping it apart
 * from `stockyard.db` means its writes (demand sums, a run's forecasts) never take the store's write
 * lock, so ingest commits never wait for analytics; measured with one file, re-fits running back to
 * back raised ingest ack p99 about 4× at 5k msg/s.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Database as Db } from 'better-sqlite3'

export const ANALYTICS_FILE = 'analytics.db'

/** Open (creating if needed) the analytics database of `dataDir`, in WAL mode. */
export function openAnalyticsDb(dataDir: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): Db {
  mkdirSync(dataDir, { recursive: true })
  const db = new Database(join(dataDir, ANALYTICS_FILE))
  db.pragma('busy_timeout = 5000')
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous}`)
  db.pragma('cache_size = -8192')
  return db
}
