/** Opens the embedded SQLite store (WAL) under the data directory and wires its parts. */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { acquireWriterLock } from './lock.ts'
import { migrate } from './schema.ts'
import { SqliteSeriesStore } from './series.ts'
import { SqliteDeviceRegistry } from './devices.ts'
import { SqliteTokenStore } from './tokens.ts'
import { SqliteDeadLetterLog } from './dead-letters.ts'
import type { RetentionPolicy } from './retention.ts'

export interface SqliteStoreOptions {
  dataDir: string
  /** NORMAL: a commit survives a process crash. FULL: it also survives power loss (fsync per commit). */
  synchronous: 'NORMAL' | 'FULL'
  retention?: Partial<RetentionPolicy>
  deadLetterMax?: number
  now?: () => number
  /**
   * The ingesting process (the gateway) opens as writer: it recovers rollups after a crash and
   * holds DATA_DIR/gateway.lock. Readers (the CLI) may open the same store at any time.
   */
  writer?: boolean
  /** The writer's HQ export log: lateness and clock (see hq.ts). */
  hq?: { latenessMs: number; now: () => number }
}

export interface SqliteStore {
  readonly path: string
  /** The connection itself, for the parts that keep their own tables (rule state, alerts). */
  readonly db: Database.Database
  readonly series: SqliteSeriesStore
  readonly devices: SqliteDeviceRegistry
  readonly tokens: SqliteTokenStore
  readonly deadLetters: SqliteDeadLetterLog
  close(): void
}

const DEFAULT_RETENTION: RetentionPolicy = {
  rawDays: 14,
  minuteDays: 180,
  hourDays: 5 * 365,
  eventDays: 365,
  keyMaxAgeMs: 8 * 86_400_000,
  chunkRows: 5_000,
}

/** Open (creating if needed) `DATA_DIR/stockyard.db`. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  mkdirSync(opts.dataDir, { recursive: true })
  const release = opts.writer ? acquireWriterLock(opts.dataDir) : () => undefined
  const path = join(opts.dataDir, 'stockyard.db')
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${opts.synchronous}`)
  // The CLI may write (devices, tokens) while the gateway runs; wait rather than fail.
  db.pragma('busy_timeout = 5000')
  // The writer keeps the hot pages of the append path and rollups; a reader needs less.
  db.pragma(`cache_size = ${opts.writer ? -65536 : -16384}`)
  db.pragma('temp_store = MEMORY')
  migrate(db)
  const now = opts.now ?? Date.now
  const series = new SqliteSeriesStore(db, {
    deadLetterMax: opts.deadLetterMax ?? 10_000,
    retention: { ...DEFAULT_RETENTION, ...opts.retention },
    now,
    writer: opts.writer ?? false,
    ...(opts.hq ? { hq: opts.hq } : {}),
  })
  return {
    path,
    db,
    series,
    devices: new SqliteDeviceRegistry(db, now),
    tokens: new SqliteTokenStore(db, now),
    deadLetters: new SqliteDeadLetterLog(db),
    close: () => {
      series.close()
      db.close()
      release()
    },
  }
}
