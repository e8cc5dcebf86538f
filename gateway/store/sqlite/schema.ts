/**
 * Schema of the embedded store, and why it looks like this.
 *
 * The write path is append-only: `points`, `events` and `msg_keys` are plain rowid tables with NO
 * secondary index. Appending to a rowid table writes only the rightmost B-tree page, so the insert
 * rate does not decay as the table grows; a secondary index per insert costs a random B-tree
 * descent per row (measured here: ~25x fewer inserts/s once the index outgrows the page cache).
 * The rowid doubles as the global append order that the InfluxDB outbox and the HQ export use
 * as their cursor.
 *
 * Reads never scan the raw table blindly:
 * - `rollup_1m` / `rollup_1h` (count, sum, min, max, last) are upserted once per (series, bucket)
 *   per group commit, so they cost a few rows per transaction, not one per point.
 * - `rollup_1h` also keeps the min/max rowid of the raw points in each hour, so a raw read of a
 *   series over a time range scans only the rowid ranges that hold its points.
 * - `marks` maps arrival minutes to the first rowids written in them, so retention deletes by
 *   rowid range in short chunks instead of scanning by timestamp.
 */
import { randomBytes } from 'node:crypto'
import type { Database } from 'better-sqlite3'
import { HQ_DDL } from './hq.ts'

export const SCHEMA_VERSION = 1

const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY, metric TEXT NOT NULL, site TEXT NOT NULL, zone TEXT NOT NULL,
  device TEXT NOT NULL, sku TEXT NOT NULL, UNIQUE (metric, site, zone, device, sku));
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, site TEXT NOT NULL, zone TEXT NOT NULL,
  device TEXT NOT NULL, sku TEXT NOT NULL, ref TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS msg_keys (id INTEGER PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rollup_1m (
  series_id INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
  min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL,
  PRIMARY KEY (series_id, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1h (
  series_id INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
  min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL,
  min_id INTEGER NOT NULL, max_id INTEGER NOT NULL,
  PRIMARY KEY (series_id, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS marks (minute INTEGER PRIMARY KEY, point_id INTEGER NOT NULL, event_id INTEGER NOT NULL, key_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, device TEXT NOT NULL,
  topic TEXT NOT NULL, seq INTEGER, sample TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, site TEXT NOT NULL, zone TEXT NOT NULL, username TEXT NOT NULL UNIQUE,
  secret TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
  last_seen INTEGER, status TEXT NOT NULL DEFAULT 'never', battery REAL, firmware TEXT);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL);
`

/** Create or check the schema; refuses a store written by a newer Stockyard. */
export function migrate(db: Database): void {
  db.exec(DDL)
  db.exec(HQ_DDL)
  // This store's identity and the key that signs HQ cursors: random, made once, kept with the data.
  const random = (): string => randomBytes(32).toString('base64url')
  db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?), ('hq_cursor_key', ?)`).run(random().slice(0, 16), random())
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: string } | undefined
  if (!row) db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION))
  else if (Number(row.value) > SCHEMA_VERSION) {
    throw new Error(`store schema version ${row.value} is newer than this Stockyard supports (${SCHEMA_VERSION}); upgrade Stockyard`)
  }
}
