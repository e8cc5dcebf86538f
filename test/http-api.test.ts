/**
 * The HTTP API through a real socket (startHttpServer on 127.0.0.1:0, real fetch) against the real
 * SQLite store in a temp directory.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ConfigSchema } from '../gateway/config/schema.ts'
import { ManualClock } from '../gateway/core/clock.ts'
import { StockyardError } from '../gateway/core/errors.ts'
import type { Accepted, Rejection } from '../gateway/core/records.ts'
import { authorize } from '../gateway/http/auth.ts'
import { onError } from '../gateway/http/errors.ts'
import { createHttpApp, ROUTES, startHttpServer, type Access, type HttpDeps, type HttpServer } from '../gateway/http/index.ts'
import { openApiDocument } from '../gateway/http/openapi.ts'
import { RejectionsQuerySchema } from '../gateway/http/rejections.ts'
import { SeriesQuerySchema } from '../gateway/http/series.ts'
import { GatewayMetrics } from '../gateway/metrics.ts'
import { openSqliteStore, type SqliteStore } from '../gateway/store/sqlite/index.ts'
import type { Role } from '../gateway/store/types.ts'

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0) // 2024-05-01T12:00:00Z
const MIN = 60_000

function reading(device: string, metric: string, ts: number, value: number, zone = 'dock', sku = ''): Accepted {
  return {
    device,
    site: 'site1',
    kind: 'reading',
    points: [{ metric, labels: { site: 'site1', zone, device, sku }, ts, value }],
    events: [],
    keys: [],
  }
}

function rejection(device: string, code: Rejection['code'], ts: number): Rejection {
  return { code, message: `refused: ${code}`, device, site: 'site1', topic: `stockyard/site1/${device}/reading`, sample: '{"v":1}', ts }
}

interface Harness {
  dir: string
  db: SqliteStore
  deps: HttpDeps
  server: HttpServer
  base: string
  tokens: Record<Role, string>
  readiness: { ready: boolean; checks: Record<string, boolean> }
}

let h: Harness

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stockyard-http-'))
  const config = Object.freeze(ConfigSchema.parse({ dataDir: dir }))
  const clock = new ManualClock(T0 + 60 * MIN) // 13:00Z: the default window is 12:00-13:00
  const db = openSqliteStore({
    dataDir: dir,
    synchronous: 'NORMAL',
    retention: config.store.retention,
    deadLetterMax: config.ingest.deadLetterMax,
    now: () => clock.now(),
  })
  const readiness = { ready: true, checks: { broker: true, store: true } }
  const deps: HttpDeps = {
    config,
    store: db.series,
    devices: db.devices,
    deadLetters: db.deadLetters,
    tokens: db.tokens,
    metrics: new GatewayMetrics(),
    ready: () => readiness,
    clock,
  }
  const server = await startHttpServer(createHttpApp(deps), '127.0.0.1', 0)
  const tokens = { viewer: db.tokens.add('viewer').token, hq: db.tokens.add('hq').token, admin: db.tokens.add('admin').token }
  h = { dir, db, deps, server, base: `http://127.0.0.1:${server.port}`, tokens, readiness }
})

afterAll(async () => {
  await h?.server.close()
  h?.db.close()
  if (h) rmSync(h.dir, { recursive: true, force: true })
})

type Who = 'none' | 'bad' | Role
const WHO: Who[] = ['none', 'bad', 'viewer', 'hq', 'admin']

function authHeader(who: Who): Record<string, string> {
  if (who === 'none') return {}
  if (who === 'bad') return { authorization: 'Bearer sy_nope_0000000000000000' }
  return { authorization: `Bearer ${h.tokens[who]}` }
}

async function get(path: string, who: Who = 'viewer'): Promise<Response> {
  return fetch(h.base + path, { headers: authHeader(who) })
}

async function getJson<T = any>(path: string, who: Who = 'viewer'): Promise<{ status: number; body: T }> {
  const res = await get(path, who)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return { status: res.status, body: (await res.json()) as T }
}

/**
 * The route table as we promise it; a registered route missing here fails the first test. Routes
 * without a sample need the warehouse state and rule engine, which this app is built without; their
 * access is exercised in http-rules-api.test.ts and e2e-auth.test.ts against a running engine.
 */
const ACCESS: Record<string, { access: Access; sample?: string }> = {
  'GET /healthz': { access: 'public', sample: '/healthz' },
  'GET /readyz': { access: 'public', sample: '/readyz' },
  'GET /openapi.json': { access: 'public', sample: '/openapi.json' },
  'GET /metrics': { access: 'viewer', sample: '/metrics' },
  'GET /api/v1/series': { access: 'viewer', sample: '/api/v1/series?metric=temperature_c' },
  'GET /api/v1/devices': { access: 'viewer', sample: '/api/v1/devices' },
  'GET /api/v1/status': { access: 'viewer', sample: '/api/v1/status' },
  'GET /api/v1/rejections': { access: 'viewer', sample: '/api/v1/rejections' },
  'GET /api/v1/alerts': { access: 'viewer' },
  'GET /api/v1/alerts/history': { access: 'viewer' },
  'GET /api/v1/alerts/{id}': { access: 'viewer' },
  'POST /api/v1/alerts/{id}/ack': { access: 'admin' },
  'GET /api/v1/silences': { access: 'viewer' },
  'POST /api/v1/silences': { access: 'admin' },
  'DELETE /api/v1/silences/{id}': { access: 'admin' },
  'GET /api/v1/rules': { access: 'admin' },
  'PUT /api/v1/rules/{file}': { access: 'admin' },
  'POST /api/v1/rules/reload': { access: 'admin' },
  'GET /api/v1/stock': { access: 'viewer' },
  'GET /api/v1/stock/{sku}': { access: 'viewer' },
  'GET /api/v1/movements': { access: 'viewer' },
  'GET /api/v1/hq/rollups': { access: 'hq' },
  'GET /api/v1/hq/events': { access: 'hq' },
  'GET /api/v1/hq/alerts': { access: 'hq' },
  'GET /api/v1/hq/site': { access: 'hq' },
  'POST /api/v1/hq/ack': { access: 'hq' },
  'GET /api/v1/shipments': { access: 'viewer' },
  'GET /api/v1/shipments/{id}': { access: 'viewer' },
  'GET /api/v1/skus': { access: 'viewer' },
  'PUT /api/v1/skus/{sku}': { access: 'admin' },
  'GET /api/v1/forecast/{sku}': { access: 'viewer' },
  'GET /api/v1/analytics/segments': { access: 'viewer' },
  'GET /api/v1/analytics/policy': { access: 'viewer' },
  'GET /api/v1/analytics/stats': { access: 'viewer' },
  'GET /api/v1/analytics/shipments': { access: 'viewer' },
  'GET /api/v1/analytics/status': { access: 'viewer' },
  'POST /api/v1/analytics/refit': { access: 'admin' },
  'POST /api/v1/session': { access: 'public' },
  'GET /api/v1/session': { access: 'viewer', sample: '/api/v1/session' },
  'DELETE /api/v1/session': { access: 'public' },
  'GET /api/v1/dashboards': { access: 'viewer' },
  'GET /api/v1/live': { access: 'viewer' },
}

const RANK: Record<Who, number> = { none: 0, bad: 0, viewer: 1, hq: 2, admin: 3 }
const NEED: Record<Access, number> = { public: 0, viewer: 1, hq: 2, admin: 3 }

describe('access control', () => {
  it('every registered route has a decided access level, as documented', () => {
    expect(Object.fromEntries(ROUTES.map((r) => [`${r.method} ${r.path}`, r.access]))).toEqual(
      Object.fromEntries(Object.entries(ACCESS).map(([k, v]) => [k, v.access])),
    )
  })

  const cases = Object.entries(ACCESS).flatMap(([route, { access, sample }]) =>
    sample === undefined ? [] : WHO.map((who) => ({ route, access, sample, who })),
  )
  it.each(cases)('$route as $who', async ({ access, sample, who }) => {
    const res = await get(sample, who)
    if (access === 'public' || RANK[who] >= NEED[access]) {
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      return
    }
    const body = (await res.json()) as { error: { code: string } }
    if (who === 'none' || who === 'bad') {
      expect(res.status).toBe(401)
      expect(body.error.code).toBe('auth.required')
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    } else {
      expect(res.status).toBe(403)
      expect(body.error.code).toBe('auth.forbidden')
    }
  })

  describe('roles above viewer (routes of the future /api/v1/hq/*)', () => {
    let server: HttpServer
    beforeAll(async () => {
      // Same middleware and error mapping as the API, on routes needing hq and admin.
      const app = new Hono()
      app.get('/hq', authorize('hq', h.deps.tokens), (c) => c.json({ ok: true }))
      app.get('/admin', authorize('admin', h.deps.tokens), (c) => c.json({ ok: true }))
      app.onError(onError(undefined))
      server = await startHttpServer(app, '127.0.0.1', 0)
    })
    afterAll(() => server.close())

    it.each([
      ['/hq', 'viewer', 403],
      ['/hq', 'hq', 200],
      ['/hq', 'admin', 200],
      ['/admin', 'viewer', 403],
      ['/admin', 'hq', 403],
      ['/admin', 'admin', 200],
      ['/admin', 'none', 401],
    ] as const)('%s as %s -> %d', async (path, who, status) => {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { headers: authHeader(who) })
      expect(res.status).toBe(status)
      if (status === 403) expect(((await res.json()) as { error: { code: string } }).error.code).toBe('auth.forbidden')
      else await res.arrayBuffer()
    })
  })
})

describe('bad query parameters', () => {
  it.each([
    ['/api/v1/series', 'metric', 'required'],
    ['/api/v1/series?metric=', 'metric', 'required'],
    ['/api/v1/series?metric=t&agg=median', 'agg', 'expected one of avg|min|max|sum|count|last'],
    ['/api/v1/series?metric=t&from=yesterday', 'from', 'epoch milliseconds or ISO 8601'],
    ['/api/v1/series?metric=t&to=2024-05-01T12:00:00', 'to', 'with a zone'],
    ['/api/v1/series?metric=t&step=1w', 'step', 'duration'],
    ['/api/v1/series?metric=t&step=0', 'step', 'duration'],
    ['/api/v1/series?metric=t&from=2024-05-01T13:00:00Z&to=2024-05-01T12:00:00Z', 'from', 'before to'],
    ['/api/v1/series?metric=t&from=2024-05-01T12:00:00Z&to=2024-05-01T12:00:00Z', 'from', 'before to'],
    ['/api/v1/series?metric=t&from=2024-01-01T00:00:00Z&to=2024-05-01T00:00:00Z&step=1m', 'step', 'more than 50000'],
    ['/api/v1/series?metric=t&devcie=d1', 'devcie', 'unknown parameter'],
    ['/api/v1/series?metric=t&site=a&site=b', 'site', 'more than once'],
    ['/api/v1/rejections?limit=0', 'limit', 'integer from 1 to 1000'],
    ['/api/v1/rejections?limit=5000', 'limit', 'integer from 1 to 1000'],
    ['/api/v1/rejections?limit=ten', 'limit', 'integer'],
    ['/api/v1/rejections?before=-3', 'before', 'integer'],
  ])('%s -> 400 naming %s', async (path, param, detail) => {
    const { status, body } = await getJson(path)
    expect(status).toBe(400)
    expect(body.error.code).toBe('request.invalid')
    expect(body.error.message.startsWith(`${param}: `)).toBe(true)
    expect(body.error.message).toContain(detail)
  })

  it('accepts exactly 50,000 buckets', async () => {
    const { status } = await getJson(`/api/v1/series?metric=t&from=${T0}&to=${T0 + 50_000 * 1000}&step=1s`)
    expect(status).toBe(200)
  })
})

describe('GET /api/v1/series', () => {
  beforeAll(() => {
    const accepted: Accepted[] = []
    for (let i = 0; i < 10; i++) {
      accepted.push(reading('env-1', 'temperature_c', T0 + i * 30_000, 20 + i)) // 12:00:00 .. 12:04:30, two per minute
      accepted.push(reading('env-2', 'temperature_c', T0 + i * 30_000, 5, 'cold'))
    }
    accepted.push(reading('env-1', 'temperature_c', T0 - 10 * MIN, 99)) // before the default window
    accepted.push(reading('env-1', 'humidity_pct', T0, 40))
    h.deps.store.append({ accepted, rejections: [] })
  })

  it('returns raw points of the last hour by default', async () => {
    const { status, body } = await getJson('/api/v1/series?metric=temperature_c&device=env-1')
    expect(status).toBe(200)
    expect(body.source).toBe('raw')
    expect(body.series).toHaveLength(1)
    expect(body.series[0].labels).toEqual({ metric: 'temperature_c', site: 'site1', zone: 'dock', device: 'env-1', sku: '' })
    expect(body.series[0].points).toEqual(Array.from({ length: 10 }, (_, i) => [T0 + i * 30_000, 20 + i]))
  })

  it('aggregates per step from the minute rollup', async () => {
    const { body } = await getJson(`/api/v1/series?metric=temperature_c&device=env-1&from=${T0}&to=${T0 + 5 * MIN}&step=1m&agg=avg`)
    expect(body.source).toBe('rollup_1m')
    expect(body.series[0].points).toEqual([0, 1, 2, 3, 4].map((m) => [T0 + m * MIN, 20 + 2 * m + 0.5]))
  })

  it('accepts ISO 8601 bounds and every aggregate', async () => {
    const range = 'from=2024-05-01T12:00:00Z&to=2024-05-01T12:05:00Z&step=5m'
    const expected = { avg: 24.5, min: 20, max: 29, sum: 245, count: 10, last: 29 }
    for (const [agg, value] of Object.entries(expected)) {
      const { body } = await getJson(`/api/v1/series?metric=temperature_c&device=env-1&${range}&agg=${agg}`)
      expect(body.series[0].points, agg).toEqual([[T0, value]])
    }
  })

  it('filters by label and returns one entry per matching series', async () => {
    const all = await getJson(`/api/v1/series?metric=temperature_c&from=${T0}&to=${T0 + 5 * MIN}&step=5m&agg=count`)
    expect(all.body.series.map((s: any) => s.labels.device).sort()).toEqual(['env-1', 'env-2'])
    const cold = await getJson(`/api/v1/series?metric=temperature_c&zone=cold&from=${T0}&to=${T0 + 5 * MIN}&step=5m&agg=max`)
    expect(cold.body.series).toEqual([{ labels: { metric: 'temperature_c', site: 'site1', zone: 'cold', device: 'env-2', sku: '' }, points: [[T0, 5]] }])
  })

  it('treats empty parameters as omitted and finds nothing for an unknown metric', async () => {
    const { status, body } = await getJson('/api/v1/series?metric=pressure_kpa&site=&zone=&step=')
    expect(status).toBe(200)
    expect(body).toEqual({ series: [], source: 'raw' })
  })
})

describe('GET /api/v1/status', () => {
  it('names the site and says replication to InfluxDB is off unless configured', async () => {
    const { status, body } = await getJson('/api/v1/status')
    expect(status).toBe(200)
    expect(body).toMatchObject({ site: 'site1', replication: { influx: { enabled: false } } })
    expect(body.replication.influx.lanes).toBeUndefined()
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0)
  })
})

describe('GET /api/v1/devices', () => {
  it('lists devices with status and never their credentials', async () => {
    await h.db.devices.add({ id: 'scale-1', kind: 'scale', site: 'site1', zone: 'dock' })
    const { status, body } = await getJson('/api/v1/devices')
    expect(status).toBe(200)
    const dev = body.devices.find((d: any) => d.id === 'scale-1')
    expect(dev).toEqual({
      id: 'scale-1',
      kind: 'scale',
      site: 'site1',
      zone: 'dock',
      status: 'never',
      lastSeen: null,
      battery: null,
      firmware: null,
      disabled: false,
    })
    expect(JSON.stringify(body)).not.toMatch(/scrypt|password|username/i)
  })
})

describe('GET /api/v1/rejections', () => {
  beforeAll(() => {
    const rejections = [
      rejection('env-1', 'payload.invalid', T0),
      rejection('env-1', 'ts.future', T0 + 1),
      rejection('env-2', 'payload.invalid', T0 + 2),
      rejection('env-2', 'seq.duplicate', T0 + 3),
      rejection('env-3', 'payload.invalid', T0 + 4),
    ]
    h.deps.store.append({ accepted: [], rejections })
  })

  it('returns refused messages newest first with the total', async () => {
    const { status, body } = await getJson('/api/v1/rejections')
    expect(status).toBe(200)
    expect(body.total).toBe(5)
    expect(body.rejections.map((r: any) => r.code)).toEqual(['payload.invalid', 'seq.duplicate', 'payload.invalid', 'ts.future', 'payload.invalid'])
    expect(body.rejections[0]).toMatchObject({
      device: 'env-3',
      code: 'payload.invalid',
      at: T0 + 4,
      topic: 'stockyard/site1/env-3/reading',
      seq: null,
      sample: '{"v":1}',
    })
  })

  it('filters by code and device and pages with before', async () => {
    const byCode = await getJson('/api/v1/rejections?code=payload.invalid&device=env-2')
    expect(byCode.body.rejections.map((r: any) => r.at)).toEqual([T0 + 2])
    const page1 = await getJson('/api/v1/rejections?limit=2')
    expect(page1.body.rejections).toHaveLength(2)
    const page2 = await getJson(`/api/v1/rejections?limit=2&before=${page1.body.rejections[1].id}`)
    expect(page2.body.rejections.map((r: any) => r.at)).toEqual([T0 + 2, T0 + 1])
  })
})

describe('probes and metrics', () => {
  it('GET /healthz is ok', async () => {
    expect(await getJson('/healthz', 'none')).toEqual({ status: 200, body: { status: 'ok' } })
  })

  it('GET /readyz is 503 with the failing check while a component is down', async () => {
    h.readiness.ready = false
    h.readiness.checks.broker = false
    try {
      expect(await getJson('/readyz', 'none')).toEqual({ status: 503, body: { status: 'not_ready', checks: { broker: false, store: true } } })
    } finally {
      h.readiness.ready = true
      h.readiness.checks.broker = true
    }
    expect((await getJson('/readyz', 'none')).body.status).toBe('ready')
  })

  it('GET /metrics is Prometheus text with the ingest counter', async () => {
    h.deps.metrics.ingested.inc({ kind: 'reading' }, 3)
    const res = await get('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toContain('# TYPE stockyard_ingest_messages_total counter')
    expect(text).toContain('stockyard_ingest_messages_total{kind="reading"} 3')
  })
})

describe('errors', () => {
  it('answers unknown routes and methods with 404 in the error shape', async () => {
    expect(await getJson('/api/v1/nope', 'none')).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'no route GET /api/v1/nope; see /openapi.json' } },
    })
    const post = await fetch(h.base + '/api/v1/devices', { method: 'POST', headers: authHeader('admin') })
    expect(post.status).toBe(404)
    expect(((await post.json()) as any).error.code).toBe('not_found')
  })

  describe('thrown by a dependency', () => {
    let server: HttpServer
    const log = { error: vi.fn() }
    let failure: Error = new Error('boom')
    beforeAll(async () => {
      const store = {
        ...h.deps.store,
        query: () => {
          throw failure
        },
      }
      server = await startHttpServer(createHttpApp({ ...h.deps, store, log }), '127.0.0.1', 0)
    })
    afterAll(() => server.close())
    const fetchSeries = () => fetch(`http://127.0.0.1:${server.port}/api/v1/series?metric=t`, { headers: authHeader('viewer') })

    it('an unknown error is a 500 internal with a generic message, and is logged', async () => {
      failure = new Error('SQLITE_CORRUPT: secret path /var/lib/x')
      const res = await fetchSeries()
      expect(res.status).toBe(500)
      expect(await res.json()).toEqual({ error: { code: 'internal', message: 'internal error; the gateway log has the details' } })
      expect(log.error).toHaveBeenCalledWith(expect.objectContaining({ err: failure }), 'http: unexpected error')
    })

    it('a StockyardError keeps its status and code', async () => {
      failure = new StockyardError('store.failed', 'the store is closed')
      const res = await fetchSeries()
      expect(res.status).toBe(503)
      expect(await res.json()).toEqual({ error: { code: 'store.failed', message: 'the store is closed' } })
    })
  })
})

describe('GET /openapi.json', () => {
  it('describes every registered route with the security its access needs', async () => {
    const { status, body } = await getJson('/openapi.json', 'none')
    expect(status).toBe(200)
    expect(body.openapi).toBe('3.1.0')
    expect(body.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }))
    expect(body.components.schemas.Error).toBeDefined()
    for (const route of ROUTES) {
      const op = body.paths[route.path]?.[route.method.toLowerCase()]
      expect(op, `${route.method} ${route.path}`).toBeDefined()
      expect(op.security, route.path).toEqual(route.access === 'public' ? [] : [{ bearer: [] }])
      expect(op['x-stockyard-access'], route.path).toBe(route.access)
    }
    expect(Object.keys(body.paths).sort()).toEqual([...new Set(ROUTES.map((r) => r.path))].sort())
  })

  it('lists every query parameter the routes accept', () => {
    const params = (path: keyof typeof openApiDocument.paths) =>
      ((openApiDocument.paths[path].get as { parameters?: Array<{ name: string }> }).parameters ?? []).map((p) => p.name).sort()
    expect(params('/api/v1/series')).toEqual(Object.keys(SeriesQuerySchema.shape).sort())
    expect(params('/api/v1/rejections')).toEqual(Object.keys(RejectionsQuerySchema.shape).sort())
  })
})
