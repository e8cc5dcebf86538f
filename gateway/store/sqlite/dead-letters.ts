/** Read side of the bounded dead-letter table (rows are written by the series store's group commit). */
import type { Database } from 'better-sqlite3'
import type { DeadLetter, DeadLetterLog } from '../types.ts'
import { whereEquals } from './where.ts'

export class SqliteDeadLetterLog implements DeadLetterLog {
  constructor(private readonly db: Database) {}

  list(opts: { limit: number; code?: string; device?: string; beforeId?: number }): DeadLetter[] {
    const { sql: where, args } = whereEquals(
      { code: opts.code || undefined, device: opts.device || undefined },
      opts.beforeId === undefined ? [] : [['id < ?', opts.beforeId]],
    )
    const sql = `SELECT id, at, code, message, device, topic, seq, sample FROM dead_letters ${where} ORDER BY id DESC LIMIT ?`
    return this.db.prepare(sql).all(...args, opts.limit) as DeadLetter[]
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n
  }
}
