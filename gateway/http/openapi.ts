/**
 * The OpenAPI 3.1 description of the HTTP API, written by hand and served at `/openapi.json`.
 * A test checks that every registered route is described here with the security its access needs.
 */
import { AGGREGATES, DEVICE_KINDS } from '../store/types.ts'
import { bearer, errors, instant, json, PUBLIC, query, ref } from './openapi-parts.ts'
import { warehousePaths, warehouseSchemas } from './openapi-warehouse.ts'
import { analyticsPaths } from './openapi-analytics.ts'
import { hqPaths } from './openapi-hq.ts'
import { uiPaths } from './openapi-ui.ts'
import type { Route } from './route.ts'
import { DEFAULT_WINDOW_MS, MAX_BUCKETS } from './series.ts'

const LANE = {
  type: 'object',
  properties: {
    cursor: { type: 'integer' },
    head: { type: 'integer' },
    lagRows: { type: 'integer' },
    lagSeconds: { type: 'number' },
    lagSecondsMax: { type: 'number', description: 'Largest lag seen during the last second' },
    sentLines: { type: 'integer' },
    rejectedLines: { type: 'integer' },
    failedAttempts: { type: 'integer' },
    lastError: { type: ['string', 'null'] },
    expiresAt: { type: ['integer', 'null'], description: 'When retention deletes the oldest unreplicated row (epoch ms)' },
  },
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Stockyard gateway API',
    version: '1',
    description:
      'API of a Stockyard edge gateway. Routes other than the probes and this document need ' +
      '`Authorization: Bearer <token>`; roles are ordered viewer < hq < admin and a route open to a role is open to the roles above it. ' +
      'Changes (acknowledgements, silences) record the name of the token (its id when it has none). ' +
      'Every error is `{"error":{"code","message"}}`, plus `details.errors` (one problem per line) when there are several, e.g. every mistake of a refused rule pack.',
  },
  security: bearer,
  paths: {
    '/healthz': {
      get: {
        operationId: 'healthz',
        summary: 'Liveness: the process answers HTTP',
        security: PUBLIC,
        'x-stockyard-access': 'public',
        responses: { '200': json({ type: 'object', properties: { status: { const: 'ok' } }, required: ['status'] }, 'Alive') },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        summary: 'Readiness: broker listening and store open',
        security: PUBLIC,
        'x-stockyard-access': 'public',
        responses: { '200': json(ref('Readiness'), 'Ready'), '503': json(ref('Readiness'), 'Not ready; `checks` says which component') },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document',
        security: PUBLIC,
        'x-stockyard-access': 'public',
        responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1 document') },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format)',
        description: 'Any valid token (viewer or above); give the scraper a viewer token.',
        security: bearer,
        'x-stockyard-access': 'viewer',
        responses: {
          '200': { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errors(401, 403, 500),
        },
      },
    },
    '/api/v1/series': {
      get: {
        operationId: 'getSeries',
        summary: 'Read one metric over a time range, raw or bucketed',
        security: bearer,
        'x-stockyard-access': 'viewer',
        parameters: [
          query('metric', 'Metric name, e.g. temperature_c', { type: 'string', minLength: 1, maxLength: 128 }, true),
          query('site', 'Only series of this site'),
          query('zone', 'Only series of this zone'),
          query('device', 'Only series of this device'),
          query('sku', 'Only series of this SKU'),
          query('from', `Start (inclusive); default \`to\` minus ${DEFAULT_WINDOW_MS / 60_000} minutes`, instant),
          query('to', 'End (exclusive); default now', instant),
          query('step', `Bucket width (30s, 1m, 5m, 1h, 1d or milliseconds); omitted for raw points. At most ${MAX_BUCKETS} buckets per series.`, {
            type: 'string',
            pattern: '^\\d+(ms|s|m|h|d)?$',
          }),
          query('agg', 'Aggregate of each bucket; ignored for raw points', { type: 'string', enum: [...AGGREGATES], default: 'avg' }),
        ],
        responses: { '200': json(ref('SeriesResult'), 'Series, oldest point first'), ...errors(400, 401, 403, 500, 503) },
      },
    },
    '/api/v1/devices': {
      get: {
        operationId: 'listDevices',
        summary: 'Every registered device with its status',
        security: bearer,
        'x-stockyard-access': 'viewer',
        responses: {
          '200': json({ type: 'object', properties: { devices: { type: 'array', items: ref('Device') } }, required: ['devices'] }, 'Devices'),
          ...errors(401, 403, 500, 503),
        },
      },
    },
    '/api/v1/status': {
      get: {
        operationId: 'getStatus',
        summary: 'Site identity, uptime, InfluxDB replication (cursor, lag in rows and seconds, per lane points and events) and Node-RED',
        security: bearer,
        'x-stockyard-access': 'viewer',
        responses: {
          '200': json(
            {
              type: 'object',
              properties: {
                site: { type: 'string' },
                startedAt: { type: 'integer' },
                uptimeSeconds: { type: 'integer' },
                replication: {
                  type: 'object',
                  properties: {
                    influx: {
                      type: 'object',
                      properties: {
                        enabled: { type: 'boolean' },
                        running: { type: 'boolean', description: 'The sink worker thread is up (restarted 5 s after it dies)' },
                        target: { type: 'string' },
                        inflight: { type: 'integer' },
                        lanes: { type: 'object', properties: { points: LANE, events: LANE } },
                      },
                      required: ['enabled'],
                    },
                  },
                },
                nodeRed: {
                  type: 'object',
                  description: 'Embedded Node-RED (nodeRed.enabled): its editor path, whether its flows run, the last start time and restarts',
                  properties: {
                    enabled: { type: 'boolean' },
                    editor: { type: 'string' },
                    running: { type: 'boolean' },
                    startMs: { type: ['integer', 'null'] },
                    restarts: { type: 'integer' },
                  },
                  required: ['enabled'],
                },
              },
              required: ['site', 'startedAt', 'uptimeSeconds', 'replication', 'nodeRed'],
            },
            'Status',
          ),
          ...errors(401, 403, 500),
        },
      },
    },
    '/api/v1/rejections': {
      get: {
        operationId: 'listRejections',
        summary: 'Refused messages from the dead-letter log, newest first',
        security: bearer,
        'x-stockyard-access': 'viewer',
        parameters: [
          query('limit', 'Rows to return', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
          query('code', 'Only this rejection code, e.g. payload.invalid'),
          query('device', 'Only this device'),
          query('before', 'Only rows with an id below this one; pass the last id of a page for the next', { type: 'integer', minimum: 1 }),
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              properties: { rejections: { type: 'array', items: ref('DeadLetter') }, total: { type: 'integer', description: 'Rows in the log (unfiltered)' } },
              required: ['rejections', 'total'],
            },
            'Rejections',
          ),
          ...errors(400, 401, 403, 500, 503),
        },
      },
    },
    ...warehousePaths,
    ...analyticsPaths,
    ...hqPaths,
    ...uiPaths,
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Token created with the stockyard CLI; role viewer, hq or admin' } },
    schemas: {
      Error: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            properties: {
              code: { type: 'string', enum: ['request.invalid', 'auth.required', 'auth.forbidden', 'not_found', 'conflict', 'store.failed', 'internal'] },
              message: { type: 'string', description: 'What went wrong; for request.invalid it starts with the parameter or field name' },
              details: {
                type: 'object',
                properties: { errors: { type: 'array', items: { type: 'string' }, description: 'Every problem, one per line (`name: problem`)' } },
                required: ['errors'],
              },
            },
            required: ['code', 'message'],
          },
        },
        required: ['error'],
      },
      Readiness: {
        type: 'object',
        properties: { status: { enum: ['ready', 'not_ready'] }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } },
        required: ['status', 'checks'],
      },
      SeriesResult: {
        type: 'object',
        properties: {
          series: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                labels: {
                  type: 'object',
                  properties: {
                    metric: { type: 'string' },
                    site: { type: 'string' },
                    zone: { type: 'string' },
                    device: { type: 'string' },
                    sku: { type: 'string' },
                  },
                  required: ['metric', 'site', 'zone', 'device', 'sku'],
                },
                points: {
                  type: 'array',
                  description: '[epoch ms (bucket start for bucketed reads), value]',
                  items: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'number' }], minItems: 2, maxItems: 2 },
                },
              },
              required: ['labels', 'points'],
            },
          },
          source: { enum: ['raw', 'rollup_1m', 'rollup_1h'], description: 'Which table answered' },
        },
        required: ['series', 'source'],
      },
      Device: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          kind: { enum: [...DEVICE_KINDS] },
          site: { type: 'string' },
          zone: { type: 'string' },
          status: { enum: ['online', 'offline', 'never'] },
          lastSeen: { type: ['integer', 'null'], description: 'Epoch ms' },
          battery: { type: ['number', 'null'] },
          firmware: { type: ['string', 'null'] },
          disabled: { type: 'boolean' },
        },
        required: ['id', 'kind', 'site', 'zone', 'status', 'lastSeen', 'battery', 'firmware', 'disabled'],
      },
      DeadLetter: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          at: { type: 'integer', description: 'Epoch ms when refused' },
          code: { type: 'string' },
          message: { type: 'string' },
          device: { type: 'string' },
          topic: { type: 'string' },
          seq: { type: ['integer', 'null'] },
          sample: { type: 'string', description: 'First 1 KiB of the payload' },
        },
        required: ['id', 'at', 'code', 'message', 'device', 'topic', 'seq', 'sample'],
      },
      ...warehouseSchemas,
    },
    responses: {
      E400: json(ref('Error'), 'A parameter or body field is invalid (code request.invalid); the message names it, `details.errors` lists each'),
      E401: json(ref('Error'), 'No bearer token, or one that is not valid (code auth.required)'),
      E403: json(ref('Error'), 'The token role is too low for this route (code auth.forbidden)'),
      E404: json(ref('Error'), 'No such resource (code not_found)'),
      E409: json(ref('Error'), 'The resource is in a state that refuses the change (code conflict)'),
      E410: json(ref('Error'), 'What the cursor points to was deleted by retention (code gone); the message says which range'),
      E413: json(ref('Error'), 'The body is larger than the route accepts (code request.invalid); nothing was changed'),
      E500: json(ref('Error'), 'Unexpected error (code internal); the gateway log has the details'),
      E503: json(ref('Error'), 'The store failed (code store.failed); retry later'),
    },
  },
} as const

export const openApiRoutes: Route[] = [{ method: 'GET', path: '/openapi.json', access: 'public', handle: (c) => c.json(openApiDocument) }]
