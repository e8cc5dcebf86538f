/**
 * Reads of the HQ streams from a reader connection, in pages by the stream's own order (keyset on
 * `seq`): closed rollup windows from the export log (store/sqlite/hq.ts), events by rowid and alert
 * changes by their history id. Each page is one short query, so a pull of millions of rows never
 * holds the connection, and other requests run between its pages.
 */
import type { Database, Statement } from 'better-sqlite3'
import { HQ_RESOLUTIONS, type HqResolution } from '../store/sqlite/hq.ts'
import type { HqStream } from './cursor.ts'

/** One closed window, as HQ gets it. `start` is the window's start (epoch ms, UTC-aligned). */
export interface HqWindow {
  site: string
  metric: string
  labels: { zone: string; device: string; sku: string }
  resolution: HqResolution
  start: number
  count: number
  sum: number
  min: number
  max: number
  last: number
  revision: number
}

/** A page: rows in order, and the position of the last one. */
export interface Page<T> {
  rows: T[]
  lastSeq: number
}

export class HqReader {
  private readonly st: Record<string, Statement>
  private readonly meta: Statement
  private alertSt: { page: Statement; min: Statement } | null = null

  constructor(
    private readonly db: Database,
    private readonly site: string,
  ) {
    this.st = {
      events: db.prepare('SELECT id, ts, kind, zone, device, sku, ref, body FROM events WHERE id > ? ORDER BY id LIMIT ?'),
      minEvent: db.prepare('SELECT min(id) FROM events').pluck(),
      hasAlerts: db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_history'`).pluck(),
    }
    this.meta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck()
    // Windows as JSON text built by SQLite: a pull of a million rows then costs no object per row in
    // JS (half the time of mapping rows to objects and JSON.stringify, measured on 1.44 M windows).
    const line = (res: HqResolution, agg: boolean): string =>
      `json_object('site', @site, 'metric', s.metric, 'labels', json_object('zone', s.zone, 'device', s.device, 'sku', s.sku),
        'resolution', '${res}', 'start', h.bucket, ${
          agg
            ? `'count', sum(r.count), 'sum', sum(r.sum), 'min', min(r.min), 'max', max(r.max), 'last', (SELECT l.last FROM rollup_1h l
                WHERE l.series_id = h.series_id AND l.bucket >= h.bucket AND l.bucket < h.bucket + 86400000 ORDER BY l.last_ts DESC LIMIT 1)`
            : `'count', r.count, 'sum', r.sum, 'min', r.min, 'max', r.max, 'last', r.last`
        }, 'revision', h.revision)`
    for (const res of ['1m', '1h'] as const) {
      this.st[`text${res}`] = db
        .prepare(
          `SELECT h.seq, ${line(res, false)} FROM hq_windows h JOIN rollup_${res} r ON r.series_id = h.series_id AND r.bucket = h.bucket
           JOIN series s ON s.id = h.series_id WHERE h.res = '${res}' AND h.seq > @after ORDER BY h.seq LIMIT @limit`,
        )
        .raw()
    }
    this.st.text1d = db
      .prepare(
        `SELECT h.seq, ${line('1d', true)} FROM hq_windows h JOIN rollup_1h r ON r.series_id = h.series_id AND r.bucket >= h.bucket
         AND r.bucket < h.bucket + 86400000 JOIN series s ON s.id = h.series_id WHERE h.res = '1d' AND h.seq > @after GROUP BY h.seq ORDER BY h.seq LIMIT @limit`,
      )
      .raw()
  }

  /** `windows` as NDJSON text (one JSON object per line, each ending in a newline). */
  windowLines(res: HqResolution, afterSeq: number, limit: number): { text: string; count: number; lastSeq: number } {
    const rows = this.st[`text${res}`]!.all({ site: this.site, after: afterSeq, limit }) as Array<[number, string]>
    let text = ''
    for (const r of rows) text += r[1] + '\n'
    return { text, count: rows.length, lastSeq: rows.length ? rows[rows.length - 1]![0] : afterSeq }
  }

  /** The store's identity and cursor key (made at the store's creation, see schema.ts). */
  identity(): { store: string; key: string } {
    return { store: this.meta.get('store_id') as string, key: this.meta.get('hq_cursor_key') as string }
  }

  /** `windowLines` as objects (a JSON page: at most 10,000 rows, so parsing them back costs little). */
  windows(res: HqResolution, afterSeq: number, limit: number): Page<HqWindow> {
    const { text, lastSeq } = this.windowLines(res, afterSeq, limit)
    return {
      rows: text
        ? text
            .trimEnd()
            .split('\n')
            .map((l) => JSON.parse(l) as HqWindow)
        : [],
      lastSeq,
    }
  }

  events(afterId: number, limit: number): Page<Record<string, unknown>> {
    const rows = this.st.events!.all(afterId, limit) as Array<{
      id: number
      ts: number
      kind: string
      zone: string
      device: string
      sku: string
      ref: string
      body: string
    }>
    return {
      rows: rows.map((r) => ({
        site: this.site,
        id: r.id,
        ts: r.ts,
        kind: r.kind,
        zone: r.zone,
        device: r.device,
        sku: r.sku,
        ref: r.ref,
        body: JSON.parse(r.body) as unknown,
      })),
      lastSeq: rows.length ? rows[rows.length - 1]!.id : afterId,
    }
  }

  /** The alert tables' statements, once the ingest worker has created those tables (a fresh store has none). */
  private alertStatements(): { page: Statement; min: Statement } | null {
    if (this.alertSt) return this.alertSt
    if (!this.st.hasAlerts!.get()) return null
    this.alertSt = {
      page: this.db.prepare(
        `SELECT h.id, h.alert, h.rule, h.episode, h.at, h.event, h.state, h.value, h.detail, a.severity, a.labels
         FROM alert_history h LEFT JOIN alerts a ON a.id = h.alert WHERE h.id > ? ORDER BY h.id LIMIT ?`,
      ),
      min: this.db.prepare('SELECT min(id) FROM alert_history').pluck(),
    }
    return this.alertSt
  }

  alerts(afterId: number, limit: number): Page<Record<string, unknown>> {
    const st = this.alertStatements()
    if (!st) return { rows: [], lastSeq: afterId }
    const rows = st.page.all(afterId, limit) as Array<{ id: number; detail: string; labels: string | null } & Record<string, unknown>>
    return {
      rows: rows.map((r) => ({ site: this.site, ...r, detail: JSON.parse(r.detail) as unknown, labels: r.labels ? (JSON.parse(r.labels) as unknown) : {} })),
      lastSeq: rows.length ? rows[rows.length - 1]!.id : afterId,
    }
  }

  /**
   * Whether rows after `seq` of `stream` were deleted by retention before HQ had them; then what is
   * gone, for the 410.
   */
  gone(stream: HqStream, seq: number): string | null {
    if (stream.startsWith('rollups/')) {
      const res = stream.slice('rollups/'.length) as HqResolution
      const pruned = Number((this.meta.get(`hq_pruned_${res}`) as string | undefined) ?? 0)
      if (seq >= pruned) return null
      const before = Number((this.meta.get(`hq_pruned_before_${res}`) as string | undefined) ?? 0)
      return `${res} windows before ${new Date(before).toISOString()} were deleted by retention (store.retention) before this cursor read them`
    }
    const first = (stream === 'events' ? this.st.minEvent!.get() : (this.alertStatements()?.min.get() ?? null)) as number | null
    if (first === null || seq + 1 >= first) return null
    return `${stream} ${seq + 1} to ${first - 1} were deleted by retention before this cursor read them`
  }
}

export const resolutionOf = (stream: HqStream): HqResolution | null => (stream.startsWith('rollups/') ? (stream.slice(8) as HqResolution) : null)
export { HQ_RESOLUTIONS }
