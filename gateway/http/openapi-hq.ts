/** The OpenAPI description of HQ's pull (gateway/http/hq.ts), merged into the document by `openapi.ts`. */
import { bearer, errors, json, jsonBody, object, query, type PathItem } from './openapi-parts.ts'

const item = (ops: PathItem): PathItem => ops
const hq = { security: bearer, 'x-stockyard-access': 'hq' }

const streamParams = [
  query('cursor', 'Where the last pull of this stream ended (`next_cursor`, or a checkpoint `cursor`); none = from the oldest row kept'),
  query('limit', 'Rows at most: JSON ≤ 10,000 (default 1,000), NDJSON ≤ 10,000,000 (default 100,000)', { type: 'integer', minimum: 1 }),
  query('format', '`ndjson` streams (also with `Accept: application/x-ndjson`); gzip with `Accept-Encoding: gzip`', {
    type: 'string',
    enum: ['json', 'ndjson'],
  }),
]

const page = (row: object, what: string) => ({
  '200': {
    description: `${what}. JSON: one page. NDJSON: one row per line, a checkpoint line {cursor, rows} every 10,000 rows, and a last line {next_cursor, rows, more}; a stream without that line was cut`,
    content: {
      'application/json': {
        schema: object({
          rows: { type: 'array', items: row },
          next_cursor: { type: 'string' },
          more: { type: 'boolean', description: 'More rows wait after next_cursor' },
        }),
      },
      'application/x-ndjson': { schema: { type: 'string' } },
    },
  },
  ...errors(400, 401, 403, 410, 500, 503),
})

const window = object({
  site: { type: 'string' },
  metric: { type: 'string' },
  labels: object({ zone: { type: 'string' }, device: { type: 'string' }, sku: { type: 'string' } }),
  resolution: { enum: ['1m', '1h', '1d'] },
  start: { type: 'integer', description: 'Window start, epoch ms, aligned to the resolution (UTC)' },
  count: { type: 'integer' },
  sum: { type: 'number' },
  min: { type: 'number' },
  max: { type: 'number' },
  last: { type: 'number' },
  revision: {
    type: 'integer',
    description:
      '1 when the window closed; each change by late data sends it again with the next revision. Upsert by (site, resolution, metric, labels, start), keeping the highest',
  },
})

export const hqPaths = {
  '/api/v1/hq/rollups': item({
    get: {
      operationId: 'hqRollups',
      summary: 'Closed rollup windows, in order from a cursor; a window changed by late data comes again at its next revision',
      description:
        'A window closes when its end plus `hq.allowedLatenessMs` has passed. The cursor is opaque and signed: altered, of another site or of another stream is 400; when retention deleted rows after it, 410 says which.',
      ...hq,
      parameters: [query('resolution', 'Window size', { type: 'string', enum: ['1m', '1h', '1d'] }, true), ...streamParams],
      responses: page(window, 'Closed windows'),
    },
  }),
  '/api/v1/hq/events': item({
    get: {
      operationId: 'hqEvents',
      summary: 'Events (scans, shipment changes, status) in store order from a cursor',
      ...hq,
      parameters: streamParams,
      responses: page(
        object({
          site: { type: 'string' },
          id: { type: 'integer' },
          ts: { type: 'integer' },
          kind: { type: 'string' },
          zone: { type: 'string' },
          device: { type: 'string' },
          sku: { type: 'string' },
          ref: { type: 'string' },
          body: { type: 'object' },
        }),
        'Events',
      ),
    },
  }),
  '/api/v1/hq/alerts': item({
    get: {
      operationId: 'hqAlerts',
      summary: 'Alert state changes in order from a cursor, with severity and labels',
      ...hq,
      parameters: streamParams,
      responses: page(
        object({
          site: { type: 'string' },
          id: { type: 'integer' },
          alert: { type: 'string' },
          rule: { type: 'string' },
          episode: { type: 'integer' },
          at: { type: 'integer' },
          event: { type: 'string' },
          state: { type: 'string' },
          value: { type: ['number', 'null'] },
          detail: { type: 'object' },
          severity: { type: ['string', 'null'] },
          labels: { type: 'object' },
        }),
        'Alert changes',
      ),
    },
  }),
  '/api/v1/hq/ack': item({
    post: {
      operationId: 'hqAck',
      summary: 'HQ has stored everything up to this cursor; with store.retention.waitForHqAck, rollups are deleted only once acknowledged',
      description:
        'Acknowledgements only move forward. Without an acknowledgement, windows past their retention are kept up to store.retention.hqAckCapDays longer; then they go and stockyard_hq_ack_overdue fires.',
      ...hq,
      requestBody: jsonBody(object({ cursor: { type: 'string' } }), 'A cursor of any HQ stream, as a pull returned it'),
      responses: {
        '200': json(
          object({ stream: { type: 'string' }, acked: { type: 'string', description: 'The cursor acknowledged now (the furthest one so far)' } }),
          'Acknowledged',
        ),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/hq/site': item({
    get: {
      operationId: 'hqSite',
      summary: 'The site: id, time zone, zones, metric catalog, resolutions, lateness, gateway version',
      ...hq,
      responses: {
        '200': json(
          object({
            site: { type: 'string' },
            timeZone: { type: 'string' },
            zones: { type: 'array', items: { type: 'string' } },
            metrics: { type: 'array', items: object({ metric: { type: 'string' }, series: { type: 'integer' } }) },
            resolutions: { type: 'array', items: { type: 'string' } },
            allowedLatenessMs: { type: 'integer' },
            gateway: object({ name: { type: 'string' }, version: { type: 'string' } }),
          }),
          'The site',
        ),
        ...errors(401, 403, 500, 503),
      },
    },
  }),
}
