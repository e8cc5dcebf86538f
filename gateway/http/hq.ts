/**
 * HQ's pull (role hq): closed rollup windows, events and alert changes, each an ordered stream read
 * from a cursor, and the site's descriptor. See gateway/hq/ and the README's "HQ pull".
 *
 * A pull answers JSON (`{rows, next_cursor, more}`, at most 10,000 rows) or, with `format=ndjson` or
 * `Accept: application/x-ndjson`, NDJSON streamed page by page: one row per line, a checkpoint line
 * `{"cursor", "rows"}` every 10,000 rows (HQ may save it with what came before it), and a last line
 * `{"next_cursor", "rows", "more"}`. A stream that ends without that line was cut: resume from the last
 * checkpoint. Gzip with `Accept-Encoding: gzip`.
 */
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { ReadableStream } from 'node:stream/web'
import { createGzip } from 'node:zlib'
import type { Database } from 'better-sqlite3'
import type { Context } from 'hono'
import { z } from 'zod'
import { StockyardError } from '../core/errors.ts'
import { decodeCursor, encodeCursor, HQ_STREAMS, type HqStream } from '../hq/cursor.ts'
import { HqReader, type Page } from '../hq/read.ts'
import { HQ_RESOLUTIONS, type HqResolution } from '../store/sqlite/hq.ts'
import type { HttpDeps } from './deps.ts'
import { warehouseOf } from './deps.ts'
import { readJson } from './body.ts'
import { integer, invalid, oneOf, parseQuery, validate } from './params.ts'
import type { Route } from './route.ts'

/**
 * Rows per page read from the store: one short synchronous query of ~2 ms on the broker thread, which
 * then yields to the event loop before the next page, so MQTT acks and other requests go on during a
 * pull of millions of rows. (Pages of 5,000 read back to back starved the thread: ingest ack p99 rose
 * 44× during a full pull, measured in the hq bench.)
 */
const PAGE_ROWS = 1_000
/** A checkpoint line every this many rows of an NDJSON pull. */
const CHECKPOINT_ROWS = 10_000
/** The most rows a JSON (not NDJSON) answer holds. */
const MAX_JSON_ROWS = 10_000

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

const cursorParam = z.string().max(1024).optional()
const StreamQuery = z.strictObject({
  cursor: cursorParam,
  limit: integer(1, 10_000_000).optional(),
  format: oneOf(['json', 'ndjson']).optional(),
})
const RollupQuery = StreamQuery.extend({ resolution: oneOf(['1m', '1h', '1d']) })

const AckSchema = z.strictObject({ cursor: z.string().min(1).max(1024) })

/** The stream a cursor names, read before it is checked (decodeCursor checks it against itself then). */
function streamOfCursor(cursor: string): HqStream {
  try {
    const body = JSON.parse(Buffer.from(cursor.split('.')[1] ?? '', 'base64url').toString('utf8')) as { stream?: unknown }
    if (typeof body.stream === 'string' && (HQ_STREAMS as readonly string[]).includes(body.stream)) return body.stream as HqStream
  } catch {
    // reported below
  }
  throw invalid(['cursor: not a cursor of this API (c1.<payload>.<mac>)'])
}

const readers = new WeakMap<Database, HqReader>()
function readerOf(deps: HttpDeps): HqReader {
  const { db } = warehouseOf(deps)
  let r = readers.get(db)
  if (!r) readers.set(db, (r = new HqReader(db, deps.config.site)))
  return r
}

/** Answer a pull of `stream` from the request's cursor, reading pages with `read`. */
function pull(c: Context, deps: HttpDeps, stream: HqStream, q: z.infer<typeof StreamQuery>, read: (after: number, n: number) => Page<unknown>): Response {
  const reader = readerOf(deps)
  const { store, key } = reader.identity()
  const site = deps.config.site
  const from = decodeCursor(q.cursor, key, { site, store, stream })
  // Without a cursor the pull starts at the oldest row still kept; with one, nothing may be skipped.
  const gone = q.cursor ? reader.gone(stream, from) : null
  if (gone) throw new StockyardError('gone', `${gone}; start again without a cursor (and reconcile that range another way)`, { stream })
  const cursorAt = (seq: number): string => encodeCursor({ site, store, stream, seq }, key)
  const ndjson = q.format === 'ndjson' || (q.format === undefined && (c.req.header('accept') ?? '').includes('application/x-ndjson'))
  if (!ndjson) {
    const limit = q.limit ?? 1000
    if (limit > MAX_JSON_ROWS) throw invalid([`limit: at most ${MAX_JSON_ROWS} in JSON; ask for format=ndjson to stream more`])
    const page = read(from, limit)
    const more = page.rows.length === limit && read(page.lastSeq, 1).rows.length > 0
    return c.json({ rows: page.rows, next_cursor: cursorAt(page.lastSeq), more })
  }
  const enc = new TextEncoder()
  // Pages come from the page reader thread when the gateway has one (gateway/hq/pages.ts); else from
  // this thread, with a yield between pages so that a fast reader cannot hold it.
  const pages = deps.hqPages
  const readPage = pages
    ? (after: number, n: number) => pages.page(stream, after, n)
    : async (after: number, n: number) => {
        await new Promise<void>((resolve) => setImmediate(resolve))
        const page = read(after, n)
        let text = ''
        for (const r of page.rows) text += JSON.stringify(r) + '\n'
        return { bytes: enc.encode(text), count: page.rows.length, lastSeq: page.lastSeq }
      }
  const limit = q.limit ?? 100_000
  let after = from
  let sent = 0
  let sinceCheckpoint = 0
  let body: ReadableStream<Uint8Array> = new ReadableStream<Uint8Array>({
    // Pulled as the client reads: a slow puller slows the reads, nothing piles up in memory.
    async pull(controller) {
      const want = Math.min(PAGE_ROWS, limit - sent)
      const page = await readPage(after, want)
      sent += page.count
      sinceCheckpoint += page.count
      after = page.lastSeq
      if (page.count) controller.enqueue(page.bytes)
      if (page.count < want || sent >= limit) {
        const more = page.count === want && (await readPage(after, 1)).count > 0
        controller.enqueue(enc.encode(JSON.stringify({ next_cursor: cursorAt(after), rows: sent, more }) + '\n'))
        controller.close()
        return
      }
      if (sinceCheckpoint >= CHECKPOINT_ROWS) {
        controller.enqueue(enc.encode(JSON.stringify({ cursor: cursorAt(after), rows: sent }) + '\n'))
        sinceCheckpoint = 0
      }
    },
  })
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' }
  if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
    // Level 1: less than half the CPU of the default level for ~25 % more bytes (measured on window NDJSON, which
    // compresses ~18× even so).
    body = Readable.toWeb(Readable.fromWeb(body).pipe(createGzip({ level: 1 }))) as ReadableStream<Uint8Array>
    headers['content-encoding'] = 'gzip'
  }
  return new Response(body as unknown as BodyInit, { status: 200, headers })
}

/** A route pulling one of the row streams (events, alert changes). */
function rowStream(path: string, stream: 'events' | 'alerts', read: (reader: HqReader, after: number, n: number) => Page<unknown>): Route {
  return {
    method: 'GET',
    path,
    access: 'hq',
    handle: (c, deps) => {
      const q = parseQuery(c, StreamQuery)
      const reader = readerOf(deps)
      return pull(c, deps, stream, q, (after, n) => read(reader, after, n))
    },
  }
}

export const hqRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/hq/rollups',
    access: 'hq',
    handle: async (c, deps) => {
      const q = parseQuery(c, RollupQuery)
      // Reads see every acknowledged point: the writer flushes (and so publishes and revises windows) first.
      await deps.beforeRead?.()
      const res = q.resolution as HqResolution
      const reader = readerOf(deps)
      return pull(c, deps, `rollups/${res}`, q, (after, n) => reader.windows(res, after, n))
    },
  },
  rowStream('/api/v1/hq/events', 'events', (reader, after, n) => reader.events(after, n)),
  rowStream('/api/v1/hq/alerts', 'alerts', (reader, after, n) => reader.alerts(after, n)),
  {
    method: 'POST',
    path: '/api/v1/hq/ack',
    access: 'hq',
    handle: async (c, deps) => {
      const body = validate(AckSchema, await readJson(c), 'body')
      const reader = readerOf(deps)
      const { store, key } = reader.identity()
      const stream = streamOfCursor(body.cursor)
      const seq = decodeCursor(body.cursor, key, { site: deps.config.site, store, stream })
      // Acks only move forward: an old cursor acknowledged again changes nothing.
      const { db } = warehouseOf(deps)
      db.prepare(
        `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)`,
      ).run(`hq_acked_${stream}`, String(seq))
      const acked = Number(db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(`hq_acked_${stream}`))
      return c.json({ stream, acked: encodeCursor({ site: deps.config.site, store, stream, seq: acked }, key) })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/hq/site',
    access: 'hq',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      const { db } = warehouseOf(deps)
      const zones = db
        .prepare(`SELECT zone FROM devices WHERE zone != '' UNION SELECT zone FROM series WHERE zone != '' ORDER BY zone`)
        .pluck()
        .all() as string[]
      const metrics = db.prepare('SELECT metric, count(*) AS series FROM series GROUP BY metric ORDER BY metric').all() as Array<{
        metric: string
        series: number
      }>
      return c.json({
        site: deps.config.site,
        // Windows and days are UTC; the site has no time zone setting yet.
        timeZone: 'UTC',
        zones,
        metrics,
        resolutions: Object.keys(HQ_RESOLUTIONS),
        allowedLatenessMs: deps.config.hq.allowedLatenessMs,
        gateway: { name: 'stockyard', version: VERSION },
      })
    },
  },
]
