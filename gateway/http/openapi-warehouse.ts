/**
 * The OpenAPI description of the warehouse routes (alerts, silences, rules, stock, shipments, SKUs):
 * their paths and schemas, merged into the document by `openapi.ts`.
 */
import { SEVERITIES } from '../rules/schema.ts'
import { PACK_FILE_NAME } from '../rules/load.ts'
import { ALERT_STATES, MAX_HISTORY } from './alerts.ts'
import { MAX_JSON_BYTES, MAX_RULE_PACK_BYTES } from './body.ts'
import { bearer, epochMs, errors, instant, json, jsonBody, nullableEpochMs, object, pathParam, query, ref, type PathItem } from './openapi-parts.ts'
import { SHIPMENT_STATUSES } from './shipments.ts'

/** One path's operations, typed so every path of the document may be asked for any method. */
const item = (ops: PathItem): PathItem => ops

const viewer = { security: bearer, 'x-stockyard-access': 'viewer' }
/** Scans and units moved, per scan event. */
const MOVED = object({ scans: { type: 'integer' }, units: { type: 'number' } })
const admin = { security: bearer, 'x-stockyard-access': 'admin' }
const alertId = pathParam('id', 'Alert id (16 hex digits)', { type: 'string', pattern: '^[0-9a-f]{16}$' })
const sku = pathParam('sku', 'SKU code', { type: 'string', minLength: 1, maxLength: 128 })
const labels = { type: 'object', additionalProperties: { type: 'string' } }
const globs = {
  type: 'object',
  additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9._:/#+*?-]{1,128}$' },
  propertyNames: { pattern: '^[a-z][a-z0-9_]{0,63}$' },
  minProperties: 1,
  maxProperties: 32,
  description: 'Label name -> glob (* any run of characters, ? one); `rule` matches the rule id. An alert matches when every matcher does.',
}
const duration = { type: 'string', pattern: '^(\\d{1,9}(ms|s|m|h|d))+$', description: 'Units largest first: 30m, 2h, 1d12h; at most 366d', examples: ['2h'] }
const BODY = `JSON body, at most ${MAX_JSON_BYTES / 1024} KiB`

export const warehousePaths = {
  '/api/v1/alerts': item({
    get: {
      operationId: 'listAlerts',
      summary: 'Alerts (pending, firing, and resolved ones still in the history window), most recently changed first',
      ...viewer,
      parameters: [
        query('state', 'Only alerts in this state', { type: 'string', enum: [...ALERT_STATES] }),
        query('severity', 'Only alerts of this severity', { type: 'string', enum: [...SEVERITIES] }),
        query('rule', 'Only alerts of this rule id'),
        query('limit', 'Alerts to return', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
      ],
      responses: { '200': json(object({ alerts: { type: 'array', items: ref('Alert') } }), 'Alerts'), ...errors(400, 401, 403, 500, 503) },
    },
  }),
  '/api/v1/alerts/history': item({
    get: {
      operationId: 'alertHistory',
      summary: "State changes of every alert in a time window [from, to), oldest first, with each alert's severity and labels",
      ...viewer,
      parameters: [
        query('from', 'Start (epoch ms or ISO 8601 with a zone)', { type: 'string' }, true),
        query('to', 'End, exclusive (default now)'),
        query('severity', 'Only alerts of this severity', { type: 'string', enum: [...SEVERITIES] }),
        query('limit', 'At most this many changes (1-10000, default 1000)', { type: 'integer' }),
      ],
      responses: {
        '200': json(
          object(
            {
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              changes: {
                type: 'array',
                items: {
                  allOf: [
                    ref('AlertHistoryEntry'),
                    object({ severity: { type: ['string', 'null'] }, labels: { type: 'object', additionalProperties: { type: 'string' } } }),
                  ],
                },
              },
              truncated: { type: 'boolean', description: 'More changes than `limit` fell in the window' },
            },
            ['from', 'to', 'changes', 'truncated'],
          ),
          'Alert changes',
        ),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/alerts/{id}': item({
    get: {
      operationId: 'getAlert',
      summary: `One alert and its state changes (the newest ${MAX_HISTORY}, oldest first)`,
      ...viewer,
      parameters: [alertId],
      responses: {
        '200': json(object({ alert: ref('Alert'), history: { type: 'array', items: ref('AlertHistoryEntry') } }), 'The alert'),
        ...errors(400, 401, 403, 404, 500, 503),
      },
    },
  }),
  '/api/v1/alerts/{id}/ack': item({
    post: {
      operationId: 'ackAlert',
      summary: 'Acknowledge the current episode of an alert, recording the token name (or id) as `ack.by`',
      description: 'Acknowledging an acknowledged alert keeps the first acknowledgement. No body.',
      ...admin,
      parameters: [alertId],
      responses: {
        '200': json(object({ alert: ref('Alert') }), 'The acknowledged alert'),
        ...errors(400, 401, 403, 404, 409, 500, 503),
      },
    },
  }),
  '/api/v1/silences': item({
    get: {
      operationId: 'listSilences',
      summary: 'Silences that have not ended (active and future), ending soonest first',
      ...viewer,
      responses: { '200': json(object({ silences: { type: 'array', items: ref('Silence') } }), 'Silences'), ...errors(400, 401, 403, 500, 503) },
    },
    post: {
      operationId: 'createSilence',
      summary: 'Silence the notifications of matching alerts until endsAt (or for duration)',
      ...admin,
      requestBody: jsonBody(ref('SilenceInput'), BODY),
      responses: { '201': json(object({ silence: ref('Silence') }), 'The silence'), ...errors(400, 401, 403, 413, 500, 503) },
    },
  }),
  '/api/v1/silences/{id}': item({
    delete: {
      operationId: 'expireSilence',
      summary: 'End a silence now',
      ...admin,
      parameters: [pathParam('id', 'Silence id (16 hex digits)', { type: 'string', pattern: '^[0-9a-f]{16}$' })],
      responses: { '200': json(object({ silence: ref('Silence') }), 'The ended silence'), ...errors(400, 401, 403, 404, 500, 503) },
    },
  }),
  '/api/v1/rules': item({
    get: {
      operationId: 'listRules',
      summary: 'The loaded rule packs and their rules, and the errors of the last refused reload',
      ...admin,
      responses: { '200': json(ref('RulePacks'), 'Loaded rules'), ...errors(400, 401, 403, 500, 503) },
    },
  }),
  '/api/v1/rules/{file}': item({
    put: {
      operationId: 'putRulePack',
      summary: 'Create or replace one rule pack file, validated with the other packs first',
      description:
        'The body is the pack as YAML (or JSON) text, stored as sent. A pack with any error is refused as a whole: ' +
        '400 with every error (file, rule, field) in `error.details.errors`; the file and the running rules stay as they were.',
      ...admin,
      parameters: [pathParam('file', 'Pack file name in the rules directory', { type: 'string', pattern: PACK_FILE_NAME.source })],
      requestBody: {
        required: true,
        description: `Rule pack text, at most ${MAX_RULE_PACK_BYTES / 1024 / 1024} MiB (see rules/README.md)`,
        content: { 'application/yaml': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object' } } },
      },
      responses: {
        '200': json(
          object({ file: { type: 'string' }, path: { type: 'string' }, rules: { type: 'integer', description: 'Rules loaded over all packs' } }),
          'Written and applied',
        ),
        ...errors(400, 401, 403, 413, 500, 503),
      },
    },
  }),
  '/api/v1/rules/reload': item({
    post: {
      operationId: 'reloadRules',
      summary: 'Re-read every pack of the rules directory; refused as a whole (400 listing every error) when any is invalid',
      ...admin,
      responses: { '200': json(object({ rules: { type: 'integer', description: 'Rules loaded' } }), 'Reloaded'), ...errors(400, 401, 403, 500, 503) },
    },
  }),
  '/api/v1/stock': item({
    get: {
      operationId: 'listStock',
      summary: 'Stock per SKU: on hand per location, total, policy and whether below it',
      description:
        'Every SKU with stock or a policy. With `location`, only SKUs stocked there, with only that location listed; `total` is still over all locations.',
      ...viewer,
      parameters: [query('sku', 'Only this SKU (exact)'), query('location', 'Only this location (exact)')],
      responses: { '200': json(object({ stock: { type: 'array', items: ref('StockLevel') } }), 'Stock'), ...errors(400, 401, 403, 500, 503) },
    },
  }),
  '/api/v1/stock/{sku}': item({
    get: {
      operationId: 'getStock',
      summary: "One SKU's stock; 404 when it has neither stock nor a policy",
      ...viewer,
      parameters: [sku],
      responses: { '200': json(object({ stock: ref('StockLevel') }), 'Stock of the SKU'), ...errors(400, 401, 403, 404, 500, 503) },
    },
  }),
  '/api/v1/movements': item({
    get: {
      operationId: 'movements',
      summary: 'Stock movements of a time window: scans with event time in [from, to), counted and summed by scan event and by SKU',
      description:
        'At most 31 days. `byEvent` holds `{scans, units}` per scan event (receive, putaway, pick, pack, ship, count, adjust); `bySku` the most moved SKUs (by units), each with the same per event.',
      ...viewer,
      parameters: [
        query('from', 'Start (epoch ms or ISO 8601 with a zone)', { type: 'string' }, true),
        query('to', 'End, exclusive (default now)'),
        query('sku', 'Only this SKU'),
        query('zone', 'Only scans from devices of this zone'),
        query('limit', 'SKUs listed (1-10000, default 100)', { type: 'integer' }),
      ],
      responses: {
        '200': json(
          object(
            {
              from: { type: 'string', format: 'date-time' },
              to: { type: 'string', format: 'date-time' },
              byEvent: { type: 'object', additionalProperties: MOVED },
              bySku: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, additionalProperties: MOVED } },
              skus: { type: 'integer', description: 'SKUs moved in the window (bySku may list fewer)' },
            },
            ['from', 'to', 'byEvent', 'bySku', 'skus'],
          ),
          'Movements',
        ),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/shipments': item({
    get: {
      operationId: 'listShipments',
      summary: 'Shipments, by id',
      ...viewer,
      parameters: [query('status', 'Only shipments with this status', { type: 'string', enum: [...SHIPMENT_STATUSES] })],
      responses: { '200': json(object({ shipments: { type: 'array', items: ref('Shipment') } }), 'Shipments'), ...errors(400, 401, 403, 500, 503) },
    },
  }),
  '/api/v1/shipments/{id}': item({
    get: {
      operationId: 'getShipment',
      summary: 'One shipment and its anomalies (events that went back in time or came after delivery)',
      ...viewer,
      parameters: [pathParam('id', 'Shipment id', { type: 'string', minLength: 1, maxLength: 128 })],
      responses: {
        '200': json(object({ shipment: ref('Shipment'), anomalies: { type: 'array', items: ref('ShipmentAnomaly') } }), 'The shipment'),
        ...errors(400, 401, 403, 404, 500, 503),
      },
    },
  }),
  '/api/v1/skus': item({
    get: {
      operationId: 'listSkus',
      summary: 'The SKU master: every policy, from the file or edited through the API',
      ...viewer,
      responses: { '200': json(object({ skus: { type: 'array', items: ref('SkuPolicy') } }), 'SKU policies'), ...errors(400, 401, 403, 500, 503) },
    },
  }),
  '/api/v1/skus/{sku}': item({
    put: {
      operationId: 'putSku',
      summary: "Edit one SKU's policy: the fields sent are merged over the stored ones",
      description: 'A new SKU needs reorder_point, safety_stock and lead_time. The edit wins over the file and survives restarts. A 400 names each bad field.',
      ...admin,
      parameters: [sku],
      requestBody: jsonBody(ref('SkuPatch'), BODY),
      responses: { '200': json(object({ policy: ref('SkuPolicy') }), 'The stored policy'), ...errors(400, 401, 403, 413, 500, 503) },
    },
  }),
} as const

const policyFields = {
  description: { type: 'string', maxLength: 1024 },
  unit_weight_kg: { type: 'number', exclusiveMinimum: 0 },
  unit_cost: { type: 'number', exclusiveMinimum: 0, description: 'Cost of one unit: ABC value and EOQ holding cost' },
  reorder_point: { type: 'integer', minimum: 0 },
  safety_stock: { type: 'integer', minimum: 0, description: 'At most reorder_point' },
  lead_time: { ...duration, description: 'From order to shelf, e.g. 2d, 1d12h' },
  pack_size: { type: 'integer', minimum: 1, default: 1 },
  bin: { type: 'string', description: 'Pick-face location a shelf scale watches' },
}

export const warehouseSchemas = {
  Alert: object({
    id: { type: 'string', description: 'Fingerprint of rule id and labels (16 hex digits)' },
    rule: { type: 'string' },
    episode: { type: 'integer', description: 'Counts from 1; a new episode starts each time the alert goes from quiet to pending' },
    state: { enum: [...ALERT_STATES] },
    severity: { enum: [...SEVERITIES] },
    labels,
    annotations: labels,
    value: { type: ['number', 'null'] },
    threshold: { type: ['number', 'null'] },
    verdict: { enum: ['fire', 'clear', 'hold'] },
    activeSince: epochMs('When the condition started to hold (epoch ms)'),
    firedAt: nullableEpochMs(),
    resolvedAt: nullableEpochMs(),
    clearSince: nullableEpochMs('When the clear condition started to hold while firing'),
    lastChange: epochMs('Last state change (epoch ms)'),
    ack: { oneOf: [{ type: 'null' }, object({ by: { type: 'string', description: 'Token name, or id when unnamed' }, at: epochMs() })] },
    silencedBy: { type: ['string', 'null'], description: 'Id of the silence matching the alert now' },
    notify: { type: 'array', items: { type: 'string' } },
    updatedAt: epochMs(),
  }),
  AlertHistoryEntry: object({
    id: { type: 'integer' },
    alert: { type: 'string' },
    rule: { type: 'string' },
    episode: { type: 'integer' },
    at: epochMs(),
    event: { enum: ['pending', 'firing', 'resolved', 'cancelled', 'acknowledged', 'silenced', 'unsilenced'] },
    state: { enum: [...ALERT_STATES] },
    value: { type: ['number', 'null'] },
    detail: { type: 'object', description: 'e.g. {"by": "alice"} for acknowledged' },
  }),
  Silence: object({
    id: { type: 'string' },
    matchers: globs,
    startsAt: epochMs(),
    endsAt: epochMs(),
    createdBy: { type: 'string', description: 'Token name, or id when unnamed' },
    comment: { type: 'string' },
    createdAt: epochMs(),
  }),
  SilenceInput: {
    ...object(
      {
        matchers: globs,
        startsAt: { ...instant, description: 'Default now; epoch ms (a number) or ISO 8601 with a zone' },
        endsAt: { ...instant, description: 'Epoch ms (a number) or ISO 8601 with a zone; after startsAt and now' },
        duration: { ...duration, description: 'From startsAt (or now); instead of endsAt' },
        comment: { type: 'string', maxLength: 1024 },
      },
      ['matchers'],
    ),
    additionalProperties: false,
    description: 'Exactly one of endsAt and duration.',
    examples: [{ matchers: { rule: 'reorder-point', sku: 'SKU-00*' }, duration: '2h', comment: 'delivery due this afternoon' }],
  },
  RulePacks: object({
    packs: {
      type: 'array',
      items: object({
        file: { type: 'string', description: 'Name in the rules directory' },
        path: { type: 'string' },
        rules: { type: 'array', items: { type: 'object', description: 'A validated rule, durations in ms (see rules/README.md)' } },
      }),
    },
    lastReloadErrors: { type: 'array', items: { type: 'string' }, description: 'Errors of the last refused reload; empty once one succeeds' },
  }),
  StockLevel: object({
    sku: { type: 'string' },
    total: { type: 'integer', description: 'On hand over all locations (what stock rules compare)' },
    locations: {
      type: 'array',
      items: object({
        location: { type: 'string' },
        onHand: { type: 'integer', description: 'May be negative (a data problem)' },
        countedAt: nullableEpochMs('Newest count'),
      }),
    },
    policy: { oneOf: [{ type: 'null' }, ref('SkuPolicy')] },
    below: {
      description: 'total < reorder_point, total < safety_stock; null without a policy',
      oneOf: [{ type: 'null' }, object({ reorderPoint: { type: 'boolean' }, safetyStock: { type: 'boolean' } })],
    },
  }),
  SkuPolicy: object(
    {
      sku: { type: 'string' },
      ...policyFields,
      lead_time_ms: { type: 'integer' },
      source: { enum: ['file', 'api'], description: 'api: edited through the API; wins over the file' },
      updatedAt: epochMs(),
    },
    ['sku', 'reorder_point', 'safety_stock', 'lead_time', 'lead_time_ms', 'pack_size', 'source', 'updatedAt'],
  ),
  SkuPatch: {
    type: 'object',
    properties: { sku: { type: 'string' }, ...policyFields },
    additionalProperties: false,
    minProperties: 1,
    examples: [{ reorder_point: 40 }],
  },
  Shipment: object(
    {
      id: { type: 'string' },
      status: { enum: [...SHIPMENT_STATUSES] },
      steps: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Earliest time (epoch ms) of each step reached' },
      exceptionTs: epochMs('Newest exception'),
      lastUpdate: epochMs('Newest event'),
      eta: epochMs(),
      note: { type: 'string' },
    },
    ['id', 'status', 'steps', 'lastUpdate'],
  ),
  ShipmentAnomaly: object({
    shipment: { type: 'string' },
    ts: epochMs(),
    status: { enum: [...SHIPMENT_STATUSES] },
    source: { enum: ['tracker', 'scan'] },
    device: { type: 'string' },
    message: { type: 'string' },
  }),
} as const
