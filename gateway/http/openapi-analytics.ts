/** The OpenAPI description of the analytics routes (gateway/http/analytics.ts), merged into the document by `openapi.ts`. */
import { bearer, errors, instant, json, object, pathParam, query, type PathItem } from './openapi-parts.ts'
import { HISTORY_DAYS } from './analytics.ts'

const item = (ops: PathItem): PathItem => ops
const viewer = { security: bearer, 'x-stockyard-access': 'viewer' }
const admin = { security: bearer, 'x-stockyard-access': 'admin' }
const numbers = { type: 'array', items: { type: 'number' } }
const byLevel = { type: 'object', additionalProperties: numbers, description: 'Per interval level in percent ("80", "95"), one bound per day' }
const open = { type: 'object', description: 'See the README, "Analytics"' }
const runSummary = object({
  reason: { type: 'string', enum: ['nightly', 'start', 'request'] },
  startedAt: { type: 'integer' },
  finishedAt: { type: 'integer' },
  seconds: { type: 'number' },
  skus: { type: 'integer' },
  methods: { type: 'object', additionalProperties: { type: 'integer' } },
  failed: { type: 'integer' },
  changes: { type: 'array', items: open },
})
const status = object({
  running: { type: 'boolean' },
  progress: object({ done: { type: 'integer' }, total: { type: 'integer' } }),
  lastRun: { oneOf: [runSummary, { type: 'null' }] },
  nextRunAt: { type: ['integer', 'null'] },
  lastError: { type: ['string', 'null'] },
})
const at = { type: ['integer', 'null'], description: 'When the run that made it finished (epoch ms); null before the first run' }

export const analyticsPaths = {
  '/api/v1/forecast/{sku}': item({
    get: {
      operationId: 'getForecast',
      summary: "A SKU's daily demand history, forecast with intervals, fitted model, backtest accuracy, statistics, and its cover now",
      ...viewer,
      parameters: [
        pathParam('sku', 'SKU code', { type: 'string', minLength: 1, maxLength: 128 }),
        query('history', 'Days of history to return', { type: 'integer', minimum: 1, maximum: HISTORY_DAYS.max, default: HISTORY_DAYS.default }),
      ],
      responses: {
        '200': json(
          object({
            sku: { type: 'string' },
            at: { type: 'integer' },
            method: { type: 'string', examples: ['ets(A,N,A)', 'sba'] },
            note: { type: ['string', 'null'] },
            history: object({ start: { type: 'string', format: 'date' }, values: numbers }),
            forecast: object({ start: { type: 'string', format: 'date' }, mean: numbers, lower: byLevel, upper: byLevel, sdDaily: { type: 'number' } }),
            fit: open,
            accuracy: { oneOf: [open, { type: 'null' }] },
            stats: open,
            now: object({
              onHand: { type: 'number' },
              daysOfCover: { type: 'number' },
              stockoutAt: { type: ['integer', 'null'] },
              stockoutWithin48h: { type: 'number', minimum: 0, maximum: 1 },
            }),
          }),
          'The forecast (days are UTC)',
        ),
        ...errors(400, 401, 403, 404, 500, 503),
      },
    },
  }),
  '/api/v1/analytics/segments': item({
    get: {
      operationId: 'getSegments',
      summary: 'ABC (value), XYZ (variability), demand pattern and K-means cluster of every SKU, with the clusters described',
      ...viewer,
      responses: {
        '200': json(object({ at, skus: { type: 'array', items: open }, clustering: { oneOf: [open, { type: 'null' }] } }, ['at', 'skus']), 'Segments'),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/analytics/policy': item({
    get: {
      operationId: 'getPolicy',
      summary: 'Suggested safety stock, reorder point and EOQ per SKU next to the current policy, with cover at the forecast',
      ...viewer,
      parameters: [query('sku', 'Only this SKU')],
      responses: {
        '200': json(
          object({ at, mode: { type: 'string', enum: ['suggest', 'apply'] }, serviceLevel: { type: 'number' }, skus: { type: 'array', items: open } }),
          'Policy',
        ),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/analytics/stats': item({
    get: {
      operationId: 'getStats',
      summary:
        'Descriptive statistics (mean, median, std, quantiles, CV, zero share, trend) per series of a metric, or of daily demand per SKU (metric=demand)',
      ...viewer,
      parameters: [
        query('metric', 'A metric name, or `demand` for daily demand per SKU', { type: 'string' }, true),
        query('site', 'Label filter'),
        query('zone', 'Label filter'),
        query('device', 'Label filter'),
        query('sku', 'Label filter'),
        query('from', 'Start (default: to - 1 h; for demand to - 90 days)', instant),
        query('to', 'End (default: now)', instant),
        query('step', 'Bucket width (then the statistics are of the bucket aggregates)'),
        query('agg', 'Bucket aggregate', { type: 'string', enum: ['avg', 'min', 'max', 'sum', 'count', 'last'] }),
      ],
      responses: {
        '200': json(object({ metric: { type: 'string' }, series: { type: 'array', items: open } }, ['metric', 'series']), 'Statistics per series'),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/analytics/shipments': item({
    get: {
      operationId: 'getDispatchOutlook',
      summary: 'Open shipments against the dispatch lead-time regression (volume, hour): predicted departure and whether it is at risk',
      ...viewer,
      responses: {
        '200': json(
          object({ at, model: { oneOf: [open, { type: 'null' }] }, withinMs: { type: 'integer' }, shipments: { type: 'array', items: open } }),
          'Outlook',
        ),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/analytics/status': item({
    get: {
      operationId: 'getAnalyticsStatus',
      summary: 'Whether a run is in progress, its progress, the last run and the next nightly run',
      ...viewer,
      responses: { '200': json(status, 'Status'), ...errors(400, 401, 403, 500, 503) },
    },
  }),
  '/api/v1/analytics/refit': item({
    post: {
      operationId: 'refit',
      summary: 'Start an analytics run now (202); with wait=true, answer when it has finished (200)',
      ...admin,
      parameters: [query('wait', 'Wait for the run to finish', { type: 'string', enum: ['true', 'false'], default: 'false' })],
      responses: {
        '200': json(object({ started: { type: 'boolean' }, run: runSummary }), 'The finished run'),
        '202': json(object({ started: { type: 'boolean' }, status }), 'Started'),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
}
