/**
 * What the replicator reads: the store's append-only `points` and `events` tables, in rowid order
 * (the global append order), turned into line protocol. Each is a lane with its own cursor.
 */
import type { Database, Statement } from 'better-sqlite3'
import type { LineSchema } from './influx/lines.ts'

const HOUR = 3_600_000

export type LaneName = 'points' | 'events'

/** Event-time range [from, to) and the highest rowid to look at (for backfill). */
export interface TimeRange {
  from: number
  to: number
  maxId: number
}

/** Lines read from one lane: `devices[i]` sent `lines[i]`; `last` is the highest rowid read (a row may give no line). */
export interface LaneRead {
  /** Rows read (a row may give no line): fewer than the limit means the end was reached. */
  rows: number
  lines: string[]
  devices: string[]
  last: number
}

export interface LaneSource {
  readonly lane: LaneName
  /** The column of `marks` that holds this lane's rowid at the start of each arrival minute. */
  readonly markColumn: 'point_id' | 'event_id'
  /** Highest rowid stored, 0 when empty. */
  maxId(): number
  /** Lowest rowid still stored (retention deletes from the bottom), 0 when empty. */
  minId(): number
  /** Rows with rowid > `after`, oldest first, at most `limit`; with `range`, only rowids up to `range.maxId` with from <= ts < to. */
  read(after: number, limit: number, range?: TimeRange): LaneRead
  /** The rowids that can hold rows with from <= ts < to, or null if none can. */
  idRange(from: number, to: number): { min: number; max: number } | null
}

export class PointSource implements LaneSource {
  readonly lane = 'points'
  readonly markColumn = 'point_id'
  /** Per series: measurement and tags, field and device; series are few and never change. */
  private readonly series = new Map<number, { key: string; field: string; device: string }>()
  private readonly st: Record<'max' | 'min' | 'read' | 'readRange' | 'series' | 'idRange' | 'watermark', Statement>

  constructor(
    private readonly db: Database,
    private readonly schema: LineSchema,
  ) {
    this.st = {
      max: db.prepare('SELECT coalesce(max(id), 0) FROM points').pluck(),
      min: db.prepare('SELECT coalesce(min(id), 0) FROM points').pluck(),
      read: db.prepare('SELECT id, series_id, ts, value FROM points WHERE id > ? ORDER BY id LIMIT ?').raw(),
      readRange: db.prepare('SELECT id, series_id, ts, value FROM points WHERE id > ? AND id <= ? AND ts >= ? AND ts < ? ORDER BY id LIMIT ?').raw(),
      series: db.prepare('SELECT metric, site, zone, device, sku FROM series WHERE id = ?'),
      // rollup_1h keeps the rowid span of each series' points per hour: the only rows worth scanning.
      idRange: db.prepare('SELECT min(min_id) AS min, max(max_id) AS max FROM rollup_1h WHERE bucket >= ? AND bucket < ?'),
      watermark: db.prepare(`SELECT value FROM meta WHERE key = 'rollup_watermark'`).pluck(),
    }
  }

  maxId(): number {
    return this.st.max.get() as number
  }

  minId(): number {
    return this.st.min.get() as number
  }

  idRange(from: number, to: number): { min: number; max: number } | null {
    // One snapshot: a rollup flush between the reads below must not hide the points it just folded.
    return this.db.transaction(() => this.idRangeNow(from, to))()
  }

  private idRangeNow(from: number, to: number): { min: number; max: number } | null {
    const r = this.st.idRange.get(Math.floor(from / HOUR) * HOUR, to) as { min: number | null; max: number | null }
    // The points above the rollup watermark (the last second or so, while the gateway runs) are in no
    // rollup yet: they are scanned too.
    const watermark = Number((this.st.watermark.get() as string | undefined) ?? 0)
    const head = this.maxId()
    if (head > watermark) return { min: Math.min(r.min ?? Infinity, watermark + 1), max: head }
    return r.min === null || r.max === null ? null : { min: r.min, max: r.max }
  }

  read(after: number, limit: number, range?: TimeRange): LaneRead {
    const rows = (range ? this.st.readRange.all(after, range.maxId, range.from, range.to, limit) : this.st.read.all(after, limit)) as Array<
      [number, number, number, number]
    >
    const lines: string[] = []
    const devices: string[] = []
    let last = after
    // Consecutive rows of one series key and timestamp (the metrics of one reading) share a line.
    let open = ''
    let openKey = ''
    let openTs = NaN
    let openDevice = ''
    const openFields: string[] = []
    for (const [id, seriesId, ts, value] of rows) {
      const s = this.seriesOf(seriesId)
      // A field twice (two readings of one metric in one ms) starts a new line: one value per field and line.
      if (s.key === openKey && ts === openTs && !openFields.includes(s.field)) {
        open += `,${s.field}=${value}`
        openFields.push(s.field)
      } else {
        if (open) {
          lines.push(`${open} ${openTs}`)
          devices.push(openDevice)
        }
        open = `${s.key} ${s.field}=${value}`
        openKey = s.key
        openTs = ts
        openDevice = s.device
        openFields.length = 0
        openFields.push(s.field)
      }
      last = id
    }
    if (open) {
      lines.push(`${open} ${openTs}`)
      devices.push(openDevice)
    }
    return { rows: rows.length, lines, devices, last }
  }

  private seriesOf(id: number): { key: string; field: string; device: string } {
    let s = this.series.get(id)
    if (!s) {
      const r = this.st.series.get(id) as { metric: string; site: string; zone: string; device: string; sku: string }
      s = { key: this.schema.seriesKey(r.metric, r), field: this.schema.fieldOf(r.metric), device: r.device }
      this.series.set(id, s)
    }
    return s
  }
}

export class EventSource implements LaneSource {
  readonly lane = 'events'
  readonly markColumn = 'event_id'
  private readonly st: Record<'max' | 'min' | 'read' | 'readRange' | 'span', Statement>

  constructor(
    db: Database,
    private readonly schema: LineSchema,
  ) {
    const cols = 'id, ts, kind, site, zone, device, sku, body'
    this.st = {
      max: db.prepare('SELECT coalesce(max(id), 0) FROM events').pluck(),
      min: db.prepare('SELECT coalesce(min(id), 0) FROM events').pluck(),
      read: db.prepare(`SELECT ${cols} FROM events WHERE id > ? ORDER BY id LIMIT ?`),
      readRange: db.prepare(`SELECT ${cols} FROM events WHERE id > ? AND id <= ? AND ts >= ? AND ts < ? ORDER BY id LIMIT ?`),
      span: db.prepare('SELECT min(id) AS min, max(id) AS max FROM events'),
    }
  }

  maxId(): number {
    return this.st.max.get() as number
  }

  minId(): number {
    return this.st.min.get() as number
  }

  /** Events have no time index (the log is far smaller than the points): the whole log. */
  idRange(): { min: number; max: number } | null {
    const r = this.st.span.get() as { min: number | null; max: number | null }
    return r.min === null || r.max === null ? null : { min: r.min, max: r.max }
  }

  read(after: number, limit: number, range?: TimeRange): LaneRead {
    type Row = { id: number; ts: number; kind: string; site: string; zone: string; device: string; sku: string; body: string }
    const rows = (range ? this.st.readRange.all(after, range.maxId, range.from, range.to, limit) : this.st.read.all(after, limit)) as Row[]
    const lines: string[] = []
    const devices: string[] = []
    let last = after
    for (const r of rows) {
      const line = this.schema.eventLine({ ...r, body: JSON.parse(r.body) as Record<string, unknown> })
      if (line !== null) {
        lines.push(line)
        devices.push(r.device)
      }
      last = r.id
    }
    return { rows: rows.length, lines, devices, last }
  }
}
