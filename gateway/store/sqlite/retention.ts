/**
 * Retention for the embedded store. Each step is one short transaction deleting at most
 * `chunkRows` rows, so a sweep never stalls the event loop for long; the caller runs a bounded
 * number of steps per tick and comes back later for the rest.
 *
 * Raw points, events and dedup keys are deleted by rowid range (found through `marks`, which maps
 * arrival minutes to rowids), so nothing scans by timestamp. Rollups are deleted per series by
 * their primary key (series_id, bucket).
 */
import type { Database, Statement } from 'better-sqlite3'
import type { HqLog } from './hq.ts'

const DAY = 86_400_000

export interface RetentionPolicy {
  rawDays: number
  minuteDays: number
  hourDays: number
  eventDays: number
  /** Dedup keys older than this are useless: such messages are refused as `ts.past` anyway. */
  keyMaxAgeMs: number
  chunkRows: number
  /** Rollup windows HQ has not acknowledged are kept past their retention, up to `hqAckCapDays` more. */
  waitForHqAck?: boolean
  hqAckCapDays?: number
}

export class RetentionSweeper {
  private readonly st: Record<string, Statement>
  /** Per rollup table: whether the last sweep deleted windows HQ had not acknowledged (the hard cap). */
  readonly hqAckOverdue = new Map<'rollup_1m' | 'rollup_1h', boolean>()

  constructor(
    private readonly db: Database,
    private readonly policy: RetentionPolicy,
    /** The HQ export log, whose rows go with the rollups they name. */
    private readonly hq?: HqLog,
  ) {
    this.st = {
      markBefore: db.prepare('SELECT point_id, event_id, key_id FROM marks WHERE minute <= ? ORDER BY minute DESC LIMIT 1'),
      seriesIds: db.prepare('SELECT id FROM series ORDER BY id'),
      dropMarks: db.prepare('DELETE FROM marks WHERE minute < ?'),
    }
  }

  /** Run up to `maxSteps` delete steps; returns the number of rows deleted. */
  sweep(now: number, maxSteps: number): number {
    const p = this.policy
    let deleted = 0
    let steps = 0
    const budget = (): boolean => steps < maxSteps
    const byRowid = (table: string, column: 'point_id' | 'event_id' | 'key_id', cutoff: number): void => {
      const mark = this.st.markBefore!.get(Math.floor(cutoff / 60_000) * 60_000) as Record<string, number> | undefined
      if (!mark) return
      const upTo = mark[column]!
      // Never the newest row: a rowid table hands out max(rowid)+1, so emptying it would restart
      // ids at 1 below the marks, and the next sweep would delete fresh rows.
      const del = this.db.prepare(`DELETE FROM ${table} WHERE id >= ? AND id < ? AND id <= ? AND id < (SELECT max(id) FROM ${table})`)
      const first = this.db.prepare(`SELECT min(id) AS id FROM ${table}`)
      while (budget()) {
        const lo = (first.get() as { id: number | null }).id
        if (lo === null || lo > upTo) return
        const n = del.run(lo, lo + p.chunkRows, upTo).changes
        deleted += n
        steps++
        if (n === 0) return
      }
    }
    byRowid('points', 'point_id', now - p.rawDays * DAY)
    byRowid('events', 'event_id', now - p.eventDays * DAY)
    byRowid('msg_keys', 'key_id', now - p.keyMaxAgeMs)
    for (const [table, days] of [
      ['rollup_1m', p.minuteDays],
      ['rollup_1h', p.hourDays],
    ] as const) {
      const del = this.db.prepare(`DELETE FROM ${table} WHERE series_id = ? AND bucket < ?`)
      let cutoff = now - days * DAY
      if (p.waitForHqAck && this.hq) {
        // Keep from the oldest window HQ has not acknowledged, but never past the hard cap.
        const held = this.hq.oldestUnacked(table)
        const cap = now - (days + (p.hqAckCapDays ?? 30)) * DAY
        if (held !== null && held < cutoff) cutoff = Math.max(held, cap)
        this.hqAckOverdue.set(table, held !== null && held < cap)
      }
      for (const { id } of this.st.seriesIds!.all() as Array<{ id: number }>) {
        if (!budget()) break
        const n = del.run(id, cutoff).changes
        if (n > 0) this.hq?.prune(table, id, cutoff)
        if (n > 0) {
          deleted += n
          steps++
        }
      }
    }
    // Marks are needed until every table that uses them has passed them.
    const oldest = now - Math.max(p.rawDays * DAY, p.eventDays * DAY, p.keyMaxAgeMs) - DAY
    if (budget()) this.st.dropMarks!.run(oldest)
    return deleted
  }
}
