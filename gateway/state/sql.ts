/** SQLite helpers shared by the state books. */
import type { Database } from 'better-sqlite3'

/**
 * Whether table `name` exists. A reader on another connection (the HTTP API) may run before the
 * ingest worker has created the state tables; it then reads nothing rather than failing.
 */
export function hasTable(db: Database, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined
}
