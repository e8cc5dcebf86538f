/**
 * The HQ export log: which closed rollup windows HQ may pull, in what order, at which revision.
 *
 * A window [bucket, bucket + size) closes when its end plus `latenessMs` has passed. At each rollup
 * flush (on the store's one writer, in the flush's transaction) the windows that closed since the last
 * flush are appended at revision 1; a closed window that the flush changed (late data) is appended
 * again at revision + 1, replacing its row, so it gets a new, higher `seq`. A reader that has every
 * row up to `seq` and upserts by (resolution, series, bucket) keeping the highest revision therefore
 * holds exactly the store's closed windows. `seq` never goes back (AUTOINCREMENT), also across
 * restarts; retention deletes the rows of the windows it deletes and remembers the highest `seq` it
 * took, so a cursor from before that can be told its range is gone.
 *
 * 1m and 1h windows are the rollup tables' own; 1d windows are summed from rollup_1h when read.
 */
import type { Database, Statement } from 'better-sqlite3'

export const HQ_RESOLUTIONS = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 } as const
export type HqResolution = keyof typeof HQ_RESOLUTIONS
const RESOLUTIONS = Object.keys(HQ_RESOLUTIONS) as HqResolution[]
/** The rollup table each resolution is read from. */
const SOURCE: Record<HqResolution, 'rollup_1m' | 'rollup_1h'> = { '1m': 'rollup_1m', '1h': 'rollup_1h', '1d': 'rollup_1h' }

export const HQ_DDL = `
CREATE TABLE IF NOT EXISTS hq_windows (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, res TEXT NOT NULL, series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
  revision INTEGER NOT NULL, UNIQUE (res, series_id, bucket));
CREATE INDEX IF NOT EXISTS hq_windows_res_seq ON hq_windows (res, seq);
`

/** The first bucket of resolution `res` that is not closed at `now`. */
export function closedBefore(res: HqResolution, now: number, latenessMs: number): number {
  const size = HQ_RESOLUTIONS[res]
  return Math.floor((now - latenessMs) / size) * size
}

/** The writer's side: publish closed windows, revise changed ones, drop pruned ones. */
export class HqLog {
  private readonly st: Record<string, Statement>
  private readonly closed = new Map<HqResolution, number>()

  constructor(
    db: Database,
    private readonly latenessMs: number,
  ) {
    this.st = {
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      seriesIds: db.prepare('SELECT id FROM series ORDER BY id').pluck(),
      // A new row (new seq) at the next revision; the replaced row goes.
      revise: db.prepare(
        `INSERT OR REPLACE INTO hq_windows (res, series_id, bucket, revision)
         VALUES (?, ?, ?, coalesce((SELECT revision FROM hq_windows WHERE res = ? AND series_id = ? AND bucket = ?), 0) + 1)`,
      ),
      close1m: db.prepare(
        `INSERT OR IGNORE INTO hq_windows (res, series_id, bucket, revision)
         SELECT '1m', series_id, bucket, 1 FROM rollup_1m WHERE series_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
      ),
      close1h: db.prepare(
        `INSERT OR IGNORE INTO hq_windows (res, series_id, bucket, revision)
         SELECT '1h', series_id, bucket, 1 FROM rollup_1h WHERE series_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
      ),
      close1d: db.prepare(
        `INSERT OR IGNORE INTO hq_windows (res, series_id, bucket, revision)
         SELECT '1d', series_id, bucket - bucket % 86400000 AS day, 1 FROM rollup_1h WHERE series_id = ? AND bucket >= ? AND bucket < ?
         GROUP BY day ORDER BY day`,
      ),
      maxPruned: db.prepare('SELECT max(seq) FROM hq_windows WHERE res = ? AND series_id = ? AND bucket < ?').pluck(),
      prune: db.prepare('DELETE FROM hq_windows WHERE res = ? AND series_id = ? AND bucket < ?'),
      oldestAfter: db.prepare('SELECT min(bucket) FROM hq_windows WHERE res = ? AND seq > ?').pluck(),
    }
    for (const res of RESOLUTIONS) {
      const v = this.st.getMeta!.get(`hq_closed_${res}`) as string | undefined
      this.closed.set(res, v === undefined ? 0 : Number(v))
    }
  }

  /**
   * Called in the flush transaction, after the rollup upserts: windows of the flush that had already
   * closed get their next revision; then the windows closed by `now` are published.
   */
  onFlush(touched1m: Iterable<{ seriesId: number; bucket: number }>, touched1h: Iterable<{ seriesId: number; bucket: number }>, now: number): void {
    const c1m = this.closed.get('1m')!
    const c1h = this.closed.get('1h')!
    const c1d = this.closed.get('1d')!
    for (const r of touched1m) if (r.bucket < c1m) this.revise('1m', r.seriesId, r.bucket)
    const days = new Set<string>()
    for (const r of touched1h) {
      if (r.bucket < c1h) this.revise('1h', r.seriesId, r.bucket)
      const day = r.bucket - (r.bucket % HQ_RESOLUTIONS['1d'])
      if (day < c1d) days.add(`${r.seriesId}:${day}`)
    }
    for (const k of days) {
      const [s, d] = k.split(':').map(Number) as [number, number]
      this.revise('1d', s, d)
    }
    this.close(now)
  }

  /** Whether windows have closed since the last `close` (an idle flush then still has work). */
  due(now: number): boolean {
    return RESOLUTIONS.some((res) => closedBefore(res, now, this.latenessMs) > this.closed.get(res)!)
  }

  /** Publish the windows that closed since the last call (all stored ones, the first time). */
  close(now: number): void {
    let ids: number[] | undefined
    for (const res of RESOLUTIONS) {
      const from = this.closed.get(res)!
      const to = closedBefore(res, now, this.latenessMs)
      if (to <= from) continue
      ids ??= this.st.seriesIds!.all() as number[]
      const st = res === '1m' ? this.st.close1m! : res === '1h' ? this.st.close1h! : this.st.close1d!
      for (const id of ids) st.run(id, from, to)
      this.closed.set(res, to)
      this.st.setMeta!.run(`hq_closed_${res}`, String(to))
    }
  }

  /**
   * Retention deleted the rollups of `seriesId` before `cutoff` from `table`: delete their export rows
   * and remember the highest seq deleted (a cursor below it has lost data).
   */
  prune(table: 'rollup_1m' | 'rollup_1h', seriesId: number, cutoff: number): void {
    for (const res of RESOLUTIONS) {
      if (SOURCE[res] !== table) continue
      const cut = res === '1d' ? cutoff - (cutoff % HQ_RESOLUTIONS['1d']) : cutoff
      const max = this.st.maxPruned!.get(res, seriesId, cut) as number | null
      if (max === null) continue
      this.st.prune!.run(res, seriesId, cut)
      const key = `hq_pruned_${res}`
      const prev = Number((this.st.getMeta!.get(key) as string | undefined) ?? 0)
      if (max > prev) this.st.setMeta!.run(key, String(max))
      const cutKey = `hq_pruned_before_${res}`
      const prevCut = Number((this.st.getMeta!.get(cutKey) as string | undefined) ?? 0)
      if (cut > prevCut) this.st.setMeta!.run(cutKey, String(cut))
    }
  }

  /** The start of the oldest window read from `table` that HQ has not acknowledged, or null. */
  oldestUnacked(table: 'rollup_1m' | 'rollup_1h'): number | null {
    let oldest: number | null = null
    for (const res of RESOLUTIONS) {
      if (SOURCE[res] !== table) continue
      const acked = Number((this.st.getMeta!.get(`hq_acked_rollups/${res}`) as string | undefined) ?? 0)
      const b = this.st.oldestAfter!.get(res, acked) as number | null
      if (b !== null && (oldest === null || b < oldest)) oldest = b
    }
    return oldest
  }

  private revise(res: HqResolution, seriesId: number, bucket: number): void {
    this.st.revise!.run(res, seriesId, bucket, res, seriesId, bucket)
  }
}
