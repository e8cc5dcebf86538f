/**
 * The warehouse routes of the HTTP API (alerts, silences, rules, stock, shipments, SKUs) through real
 * HTTP against a real gateway: scans and tracker events arrive over MQTT from registered devices, the
 * rule runtime on the ingest worker folds them into stock and fires alerts, and the API reads and
 * changes them. The rules directory is a temp copy of rules/, so PUT and reload never write the
 * repository's files.
 */
import { cpSync, existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AlertsQuerySchema } from '../gateway/http/alerts.ts'
import { openApiDocument } from '../gateway/http/openapi.ts'
import { ShipmentsQuerySchema } from '../gateway/http/shipments.ts'
import { StockQuerySchema } from '../gateway/http/stock.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'
import { publishAcked, REPO_ROOT, waitFor } from './helpers/e2e.ts'

const HOUR = 3_600_000

let gw: TestGateway
let rulesDir: string
let scanner: MqttClient
let tracker: MqttClient
/** Tokens by who holds them; `alice` is an admin token created with a name, `admin` one without. */
const tokens = { viewer: '', hq: '', admin: '', alice: '' }
let adminId: string

beforeAll(async () => {
  rulesDir = tempDir('stockyard-rules-api-')
  cpSync(join(REPO_ROOT, 'rules'), rulesDir, { recursive: true })
  gw = await startTestGateway({ rules: { dir: rulesDir } })
  tokens.viewer = gw.token('viewer')
  tokens.hq = gw.token('hq')
  const admin = gw.store.tokens.add('admin')
  tokens.admin = admin.token
  adminId = admin.id
  tokens.alice = gw.store.tokens.add('admin', 'alice').token
  scanner = await connectDevice(gw.ports.mqtt, await gw.addDevice('scanner-1', { kind: 'scanner', zone: 'dock' }))
  tracker = await connectDevice(gw.ports.mqtt, await gw.addDevice('tracker-1', { kind: 'tracker', zone: 'yard' }))
})

afterAll(async () => {
  await scanner?.endAsync()
  await tracker?.endAsync()
  await gw?.dispose()
  if (rulesDir) rmSync(rulesDir, { recursive: true, force: true })
})

interface Answer {
  status: number
  body: any
  headers: Headers
}

/** One request; `json` is sent as a JSON body, `text` as is. Bounded by a 10 s timeout. */
async function api(method: string, path: string, opts: { token?: string; json?: unknown; text?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  let body: string | undefined
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.json)
  } else if (opts.text !== undefined) {
    headers['content-type'] = 'application/yaml'
    body = opts.text
  }
  const res = await fetch(gw.url(path), { method, headers, body, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
}

const get = (path: string, token = tokens.viewer) => api('GET', path, { token })

/** Publish one scan at QoS 1 (the PUBACK means it is committed). */
function scan(event: string, sku: string, qty: number, location: string): Promise<void> {
  return publishAcked(scanner, topicOf('test', 'scanner-1', 'scan'), JSON.stringify({ v: 1, ts: Date.now(), event, sku, qty, location }))
}

/** The rule runtime folds a batch just after committing it: wait (bounded) until the API shows `check`. */
async function eventually(path: string, check: (body: Answer['body']) => boolean): Promise<Answer['body']> {
  let last: Answer | undefined
  const ok = await waitFor(async () => {
    last = await get(path)
    return last.status === 200 && check(last.body)
  }, 5000)
  if (!ok) throw new Error(`GET ${path} never matched; last answer ${last?.status}: ${JSON.stringify(last?.body).slice(0, 500)}`)
  return last!.body
}

const VALID_PACK = `version: 1
rules:
  - id: extra-low
    condition: { kind: stock, below: 5, sku: 'SKU-*' }
    severity: warning
    notify: [bus]
`

// Three mistakes, one per field: a duration in words, an unknown severity, an unknown notify target.
const PACK_WITH_3_MISTAKES = `version: 1
rules:
  - id: extra-low
    condition: { kind: stock, below: 5, sku: 'SKU-*' }
    for: 10 minutes
    severity: urgent
    notify: [pager]
`

describe('who may call the write routes', () => {
  const writes: Array<{ route: string; method: string; path: string; json?: unknown; text?: string }> = [
    { route: 'POST /api/v1/alerts/{id}/ack', method: 'POST', path: '/api/v1/alerts/0123456789abcdef/ack' },
    { route: 'POST /api/v1/silences', method: 'POST', path: '/api/v1/silences', json: { matchers: { rule: 'reorder-point' }, duration: '1h' } },
    { route: 'DELETE /api/v1/silences/{id}', method: 'DELETE', path: '/api/v1/silences/0123456789abcdef' },
    { route: 'GET /api/v1/rules', method: 'GET', path: '/api/v1/rules' },
    { route: 'PUT /api/v1/rules/{file}', method: 'PUT', path: '/api/v1/rules/extra.yaml', text: VALID_PACK },
    { route: 'POST /api/v1/rules/reload', method: 'POST', path: '/api/v1/rules/reload' },
    { route: 'PUT /api/v1/skus/{sku}', method: 'PUT', path: '/api/v1/skus/SKU-0001', json: { reorder_point: 1 } },
  ]
  const cases = writes.flatMap((w) => (['none', 'bad', 'viewer', 'hq'] as const).map((who) => ({ ...w, who })))

  it.each(cases)('$route as $who is refused', async ({ method, path, json, text, who }) => {
    const token = who === 'none' ? undefined : who === 'bad' ? 'sy_nope_0000000000000000' : tokens[who]
    const res = await api(method, path, { ...(token !== undefined && { token }), ...(json !== undefined && { json }), ...(text !== undefined && { text }) })
    if (who === 'none' || who === 'bad') {
      expect(res.status).toBe(401)
      expect(res.body.error.code).toBe('auth.required')
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    } else {
      expect(res.status).toBe(403)
      expect(res.body.error).toEqual({ code: 'auth.forbidden', message: `this route needs role admin or above; the token has role ${who}` })
    }
  })

  it('changed nothing: no pack written, no silence made, the SKU policy as in the file', async () => {
    expect(existsSync(join(rulesDir, 'extra.yaml'))).toBe(false)
    expect((await get('/api/v1/silences')).body.silences).toEqual([])
    expect((await get('/api/v1/stock/SKU-0001')).body.stock.policy).toMatchObject({ reorder_point: 48, source: 'file' })
  })

  it.each(['/api/v1/alerts', '/api/v1/silences', '/api/v1/stock', '/api/v1/shipments', '/api/v1/skus'])('GET %s is open to a viewer', async (path) => {
    expect((await get(path)).status).toBe(200)
    expect((await api('GET', path)).status).toBe(401)
  })
})

describe('rule packs: GET, PUT and reload', () => {
  const rulesOf = (body: Answer['body']) =>
    Object.fromEntries(body.packs.map((p: { file: string; rules: Array<{ id: string }> }) => [p.file, p.rules.map((r) => r.id)]))

  it('GET lists the loaded packs with their rules', async () => {
    const { status, body } = await get('/api/v1/rules', tokens.admin)
    expect(status).toBe(200)
    expect(Object.keys(rulesOf(body))).toEqual(['warehouse.yaml'])
    expect(rulesOf(body)['warehouse.yaml']).toContain('reorder-point')
    expect(body.packs[0].path).toBe(join(rulesDir, 'warehouse.yaml'))
    expect(body.lastReloadErrors).toEqual([])
    // Durations are milliseconds after validation.
    expect(body.packs[0].rules.find((r: { id: string }) => r.id === 'cold-room-warm').for).toBe(600_000)
  })

  it('PUT writes and applies a valid pack', async () => {
    const res = await api('PUT', '/api/v1/rules/extra.yaml', { token: tokens.admin, text: VALID_PACK })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ file: 'extra.yaml', path: join(rulesDir, 'extra.yaml') })
    expect(readFileSync(join(rulesDir, 'extra.yaml'), 'utf8')).toBe(VALID_PACK)
    const { body } = await get('/api/v1/rules', tokens.admin)
    expect(rulesOf(body)['extra.yaml']).toEqual(['extra-low'])
    expect(res.body.rules).toBe(body.packs.reduce((n: number, p: { rules: unknown[] }) => n + p.rules.length, 0))
  })

  it('PUT of a pack with 3 mistakes is a 400 listing the 3, each naming file, rule and field; the old rules stay', async () => {
    const res = await api('PUT', '/api/v1/rules/extra.yaml', { token: tokens.admin, text: PACK_WITH_3_MISTAKES })
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('request.invalid')
    const errors: string[] = res.body.error.details.errors
    expect(errors).toHaveLength(3)
    const file = join(rulesDir, 'extra.yaml')
    expect(errors.sort()).toEqual([
      expect.stringMatching(new RegExp(`^${file}: rule extra-low: for: "10 minutes" is not a duration`)),
      expect.stringMatching(new RegExp(`^${file}: rule extra-low: notify\\[0\\]: string "pager" is not a notification target`)),
      expect.stringMatching(new RegExp(`^${file}: rule extra-low: severity: expected one of "info", "warning", "critical"`)),
    ])
    // Neither the file nor the running rules changed.
    expect(readFileSync(file, 'utf8')).toBe(VALID_PACK)
    const { body } = await get('/api/v1/rules', tokens.admin)
    expect(rulesOf(body)['extra.yaml']).toEqual(['extra-low'])
    expect(body.packs.find((p: { file: string }) => p.file === 'extra.yaml').rules[0].severity).toBe('warning')
  })

  it('PUT refuses a rule id another pack already uses', async () => {
    const res = await api('PUT', '/api/v1/rules/more.yaml', { token: tokens.admin, text: VALID_PACK })
    expect(res.status).toBe(400)
    expect(res.body.error.details.errors).toEqual([expect.stringContaining('rule extra-low: id: also defined in')])
    expect(existsSync(join(rulesDir, 'more.yaml'))).toBe(false)
  })

  it('PUT accepts a pack written as JSON', async () => {
    const pack = { version: 1, rules: [{ id: 'json-low', condition: { kind: 'stock', below: 2 }, severity: 'info' }] }
    const res = await api('PUT', '/api/v1/rules/from-json.yaml', { token: tokens.admin, json: pack })
    expect(res.status).toBe(200)
    expect(rulesOf((await get('/api/v1/rules', tokens.admin)).body)['from-json.yaml']).toEqual(['json-low'])
  })

  it.each([
    ['notes.txt', 'expected a rule pack file name'],
    ['skus.yaml', 'the SKU master'],
    ['..%2Fescape.yaml', 'expected a rule pack file name'],
  ])('PUT to %s is a 400 naming file', async (file, detail) => {
    const res = await api('PUT', `/api/v1/rules/${file}`, { token: tokens.admin, text: VALID_PACK })
    expect(res.status).toBe(400)
    expect(res.body.error.message).toMatch(new RegExp(`^file: .*${detail}`))
  })

  it('PUT of an empty body or one over 1 MiB is refused', async () => {
    const empty = await api('PUT', '/api/v1/rules/extra.yaml', { token: tokens.admin, text: '' })
    expect(empty.status).toBe(400)
    expect(empty.body.error.details.errors).toEqual([expect.stringContaining('the file is empty')])
    const big = await api('PUT', '/api/v1/rules/extra.yaml', { token: tokens.admin, text: `# ${'x'.repeat(1024 * 1024)}\n${VALID_PACK}` })
    expect(big.status).toBe(413)
    expect(big.headers.get('connection')).toBe('close')
    expect(big.body.error).toEqual({ code: 'request.invalid', message: 'body: larger than 1 MiB; nothing was changed' })
    expect(readFileSync(join(rulesDir, 'extra.yaml'), 'utf8')).toBe(VALID_PACK)
  })

  it('PUT of a streamed body (no Content-Length) is cut off at 1 MiB', async () => {
    const chunk = new TextEncoder().encode(`# ${'x'.repeat(64 * 1024)}\n`)
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 32)
          controller.enqueue(chunk) // 2 MiB in all
        else controller.close()
      },
    })
    const res = await fetch(gw.url('/api/v1/rules/extra.yaml'), {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.admin}` },
      body,
      duplex: 'half',
      signal: AbortSignal.timeout(10_000),
    } as RequestInit)
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('body: larger than 1 MiB; nothing was changed')
    expect(readFileSync(join(rulesDir, 'extra.yaml'), 'utf8')).toBe(VALID_PACK)
  })

  it('reload refuses a broken directory with every error, keeps the rules, and reports the errors in GET', async () => {
    writeFileSync(join(rulesDir, 'broken.yaml'), PACK_WITH_3_MISTAKES.replace('extra-low', 'broken-low'))
    try {
      const res = await api('POST', '/api/v1/rules/reload', { token: tokens.admin })
      expect(res.status).toBe(400)
      expect(res.body.error.details.errors).toHaveLength(3)
      const { body } = await get('/api/v1/rules', tokens.admin)
      expect(Object.keys(rulesOf(body)).sort()).toEqual(['extra.yaml', 'from-json.yaml', 'warehouse.yaml'])
      expect(body.lastReloadErrors).toEqual(res.body.error.details.errors)
    } finally {
      unlinkSync(join(rulesDir, 'broken.yaml'))
    }
    const ok = await api('POST', '/api/v1/rules/reload', { token: tokens.admin })
    expect(ok.status).toBe(200)
    expect(ok.body.rules).toBeGreaterThan(0)
    expect((await get('/api/v1/rules', tokens.admin)).body.lastReloadErrors).toEqual([])
  })

  it('leaves the repository rules alone', () => {
    expect(existsSync(join(REPO_ROOT, 'rules', 'extra.yaml'))).toBe(false)
    expect(existsSync(join(REPO_ROOT, 'rules', 'from-json.yaml'))).toBe(false)
  })
})

describe('stock from scans published over MQTT', () => {
  beforeAll(async () => {
    await scan('receive', 'SKU-0001', 30, 'A-1-1')
    await scan('receive', 'SKU-0001', 10, 'DOCK-1')
    await scan('pick', 'SKU-0001', 5, 'A-1-1')
    await scan('receive', 'SKU-ZZZ', 3, 'B-9')
  })

  it('GET /api/v1/stock/{sku}: on hand per location, total, policy and whether below it', async () => {
    const body = await eventually('/api/v1/stock/SKU-0001', (b) => b.stock.total === 35)
    expect(body.stock).toMatchObject({
      sku: 'SKU-0001',
      total: 35,
      locations: [
        { location: 'A-1-1', onHand: 25, countedAt: null },
        { location: 'DOCK-1', onHand: 10, countedAt: null },
      ],
      policy: { sku: 'SKU-0001', reorder_point: 48, safety_stock: 24, lead_time: '2d', source: 'file' },
      below: { reorderPoint: true, safetyStock: false },
    })
  })

  it('a SKU with stock and no policy, and one with a policy and no stock', async () => {
    const noPolicy = await eventually('/api/v1/stock/SKU-ZZZ', (b) => b.stock.total === 3)
    expect(noPolicy.stock).toMatchObject({ policy: null, below: null })
    const noStock = await get('/api/v1/stock/SKU-0004')
    expect(noStock.status).toBe(200)
    expect(noStock.body.stock).toMatchObject({ total: 0, locations: [], below: { reorderPoint: true, safetyStock: false } })
  })

  it('GET /api/v1/stock filters by SKU and location; total stays over all locations', async () => {
    const all = await get('/api/v1/stock')
    expect(all.body.stock.map((s: { sku: string }) => s.sku)).toEqual(['SKU-0001', 'SKU-0002', 'SKU-0003', 'SKU-0004', 'SKU-ZZZ'])
    const dock = await get('/api/v1/stock?location=DOCK-1')
    expect(dock.body.stock).toHaveLength(1)
    expect(dock.body.stock[0]).toMatchObject({ sku: 'SKU-0001', total: 35, locations: [{ location: 'DOCK-1', onHand: 10 }] })
    expect((await get('/api/v1/stock?sku=SKU-0002')).body.stock.map((s: { sku: string }) => s.sku)).toEqual(['SKU-0002'])
  })

  it('404 for a SKU with neither stock nor policy; 400 for a bad SKU or parameter', async () => {
    expect(await get('/api/v1/stock/SKU-9999')).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: 'no stock and no policy for SKU SKU-9999' } },
    })
    const bad = await get('/api/v1/stock/%20SKU')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/^sku: /)
    const unknown = await get('/api/v1/stock?bin=A-1-1')
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toMatchObject({ message: 'bin: unknown parameter', details: { errors: ['bin: unknown parameter'] } })
  })
})

describe('alerts and acknowledgement', () => {
  let alertId: string

  beforeAll(async () => {
    // SKU-0001 is at 35, below its reorder point of 48: reorder-point fires (for: 0).
    const body = await eventually('/api/v1/alerts?rule=reorder-point&state=firing', (b) =>
      b.alerts.some((a: { labels: Record<string, string> }) => a.labels.sku === 'SKU-0001'),
    )
    alertId = body.alerts.find((a: { labels: Record<string, string> }) => a.labels.sku === 'SKU-0001').id
  })

  it('GET /api/v1/alerts filters by state, severity and rule', async () => {
    const { body } = await get('/api/v1/alerts?severity=warning&rule=reorder-point')
    expect(body.alerts.map((a: { id: string }) => a.id)).toContain(alertId)
    expect(body.alerts.every((a: { severity: string; rule: string }) => a.severity === 'warning' && a.rule === 'reorder-point')).toBe(true)
    expect((await get('/api/v1/alerts?severity=critical&rule=reorder-point')).body.alerts).toEqual([])
    expect((await get('/api/v1/alerts?limit=1')).body.alerts).toHaveLength(1)
  })

  it.each([
    ['/api/v1/alerts?state=open', 'state: expected one of pending|firing|resolved'],
    ['/api/v1/alerts?limit=0', 'limit: expected an integer from 1 to 1000'],
    ['/api/v1/alerts/not-an-id', 'id: expected an alert id'],
  ])('GET %s is a 400 naming the parameter', async (path, message) => {
    const res = await get(path)
    expect(res.status).toBe(400)
    expect(res.body.error.message).toContain(message)
  })

  it('POST ack records the principal by token name, and GET shows it with the history', async () => {
    const res = await api('POST', `/api/v1/alerts/${alertId}/ack`, { token: tokens.alice })
    expect(res.status).toBe(200)
    expect(res.body.alert).toMatchObject({ id: alertId, state: 'firing', ack: { by: 'alice', at: expect.any(Number) } })
    const { body } = await get(`/api/v1/alerts/${alertId}`)
    expect(body.alert.ack.by).toBe('alice')
    expect(body.history.map((h: { event: string }) => h.event)).toEqual(expect.arrayContaining(['firing', 'acknowledged']))
    expect(body.history.find((h: { event: string }) => h.event === 'acknowledged').detail).toEqual({ by: 'alice' })
  })

  it('acknowledging again keeps the first acknowledgement', async () => {
    const res = await api('POST', `/api/v1/alerts/${alertId}/ack`, { token: tokens.admin })
    expect(res.status).toBe(200)
    expect(res.body.alert.ack.by).toBe('alice')
  })

  it('refuses an unknown alert (404) and a malformed id (400)', async () => {
    expect(await api('POST', '/api/v1/alerts/0123456789abcdef/ack', { token: tokens.alice })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: 'no alert 0123456789abcdef' } },
    })
    expect((await get('/api/v1/alerts/0123456789abcdef')).status).toBe(404)
    expect((await api('POST', '/api/v1/alerts/XYZ/ack', { token: tokens.alice })).status).toBe(400)
  })

  it('refuses to acknowledge a resolved alert (409)', async () => {
    await scan('receive', 'SKU-0002', 10, 'A-2-1') // 10 < 36: fires
    const firing = await eventually('/api/v1/alerts?rule=reorder-point&state=firing', (b) =>
      b.alerts.some((a: { labels: Record<string, string> }) => a.labels.sku === 'SKU-0002'),
    )
    const id = firing.alerts.find((a: { labels: Record<string, string> }) => a.labels.sku === 'SKU-0002').id
    await scan('receive', 'SKU-0002', 100, 'A-2-1') // 110 >= 36: resolves
    await eventually(`/api/v1/alerts/${id}`, (b) => b.alert.state === 'resolved')
    const res = await api('POST', `/api/v1/alerts/${id}/ack`, { token: tokens.alice })
    expect(res.status).toBe(409)
    expect(res.body.error.code).toBe('conflict')
  })
})

describe('silences', () => {
  let silenceId: string

  it('POST creates a silence (201) recording who, and GET lists it; matching alerts show it', async () => {
    const before = Date.now()
    const res = await api('POST', '/api/v1/silences', {
      token: tokens.alice,
      json: { matchers: { rule: 'reorder-point', sku: 'SKU-000?' }, duration: '2h', comment: 'delivery due this afternoon' },
    })
    expect(res.status).toBe(201)
    const s = res.body.silence
    expect(s).toMatchObject({ matchers: { rule: 'reorder-point', sku: 'SKU-000?' }, createdBy: 'alice', comment: 'delivery due this afternoon' })
    expect(s.id).toMatch(/^[0-9a-f]{16}$/)
    expect(s.endsAt - s.startsAt).toBe(2 * HOUR)
    expect(s.startsAt).toBeGreaterThanOrEqual(before - 1000)
    silenceId = s.id
    expect((await get('/api/v1/silences')).body.silences).toEqual([s])
    const alerts = await eventually('/api/v1/alerts?rule=reorder-point&state=firing', (b) =>
      b.alerts.some((a: { silencedBy: string | null }) => a.silencedBy === silenceId),
    )
    expect(alerts.alerts.find((a: { labels: Record<string, string> }) => a.labels.sku === 'SKU-0001').silencedBy).toBe(silenceId)
  })

  it('takes endsAt and startsAt as ISO 8601 or epoch ms; an unnamed token is recorded by its id', async () => {
    const startsAt = Date.now() + HOUR
    const res = await api('POST', '/api/v1/silences', {
      token: tokens.admin,
      json: { matchers: { team: 'cold-chain' }, startsAt, endsAt: new Date(startsAt + HOUR).toISOString() },
    })
    expect(res.status).toBe(201)
    expect(res.body.silence).toMatchObject({ startsAt, endsAt: startsAt + HOUR, createdBy: adminId, comment: '' })
    expect((await get('/api/v1/silences')).body.silences.map((s: { id: string }) => s.id)).toContain(res.body.silence.id)
    expect((await api('DELETE', `/api/v1/silences/${res.body.silence.id}`, { token: tokens.admin })).status).toBe(200)
  })

  it.each([
    [{}, ['matchers: missing; expected a JSON object', 'endsAt: missing; give endsAt or duration']],
    [{ matchers: {}, duration: '2h' }, ['matchers: name at least one label']],
    [{ matchers: { rule: 'x' } }, ['endsAt: missing; give endsAt or duration']],
    [{ matchers: { rule: 'x' }, duration: '2h', endsAt: Date.now() + HOUR }, ['endsAt: give endsAt or duration, not both']],
    [{ matchers: { rule: 'x' }, duration: '2 hours' }, ['duration: "2 hours" is not a duration']],
    [{ matchers: { rule: 'x' }, endsAt: 'tomorrow' }, ['endsAt: expected epoch milliseconds or ISO 8601']],
    [{ matchers: { rule: 'x' }, endsAt: Date.now() - HOUR }, ['endsAt: must be after now']],
    [{ matchers: { Rule: 'x', zone: 'cold room' }, duration: '1h' }, ['matchers.Rule', 'matchers.zone: string "cold room" is not a glob']],
    [{ matchers: { rule: 'x' }, duration: '1h', by: 'mallory' }, ['by: unknown field']],
  ])('POST %j is a 400 listing %j', async (json, expected) => {
    const res = await api('POST', '/api/v1/silences', { token: tokens.alice, json })
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('request.invalid')
    const errors: string[] = res.body.error.details.errors
    expect(errors).toHaveLength(expected.length)
    expected.forEach((e, i) => expect(errors[i]).toContain(e))
    expect(res.body.error.message).toBe(errors.join('; '))
  })

  it('POST with no body or with bad JSON is a 400 about the body', async () => {
    const none = await api('POST', '/api/v1/silences', { token: tokens.alice })
    expect(none.body.error.message).toMatch(/^body: missing/)
    const bad = await api('POST', '/api/v1/silences', { token: tokens.alice, text: '{"matchers":' })
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/^body: not valid JSON/)
  })

  it('DELETE expires it: it ends now and is no longer listed', async () => {
    const res = await api('DELETE', `/api/v1/silences/${silenceId}`, { token: tokens.alice })
    expect(res.status).toBe(200)
    expect(res.body.silence.id).toBe(silenceId)
    expect(res.body.silence.endsAt).toBeLessThanOrEqual(Date.now())
    expect((await get('/api/v1/silences')).body.silences.map((s: { id: string }) => s.id)).not.toContain(silenceId)
    await eventually(`/api/v1/alerts?rule=reorder-point&state=firing`, (b) => b.alerts.every((a: { silencedBy: string | null }) => a.silencedBy === null))
  })

  it('DELETE of an unknown silence is a 404, of a malformed id a 400', async () => {
    expect((await api('DELETE', '/api/v1/silences/0123456789abcdef', { token: tokens.alice })).status).toBe(404)
    expect((await api('DELETE', '/api/v1/silences/nope', { token: tokens.alice })).status).toBe(400)
  })
})

describe('SKU master', () => {
  it('GET lists the policies of the file', async () => {
    const { body } = await get('/api/v1/skus')
    expect(body.skus.map((s: { sku: string }) => s.sku)).toEqual(['SKU-0001', 'SKU-0002', 'SKU-0003', 'SKU-0004'])
    expect(body.skus[0]).toMatchObject({ reorder_point: 48, safety_stock: 24, lead_time: '2d', lead_time_ms: 2 * 24 * HOUR, source: 'file' })
  })

  it('PUT merges a partial policy over the stored one; stock reads use it', async () => {
    const res = await api('PUT', '/api/v1/skus/SKU-0001', { token: tokens.alice, json: { reorder_point: 30, lead_time: '36h' } })
    expect(res.status).toBe(200)
    expect(res.body.policy).toMatchObject({ sku: 'SKU-0001', reorder_point: 30, safety_stock: 24, lead_time: '1d12h', pack_size: 24, source: 'api' })
    expect((await get('/api/v1/stock/SKU-0001')).body.stock.below).toEqual({ reorderPoint: false, safetyStock: false })
  })

  it('PUT creates a SKU when every required field is given', async () => {
    const res = await api('PUT', '/api/v1/skus/SKU-0100', { token: tokens.alice, json: { reorder_point: 10, safety_stock: 5, lead_time: '1d' } })
    expect(res.status).toBe(200)
    expect(res.body.policy).toMatchObject({ sku: 'SKU-0100', pack_size: 1, source: 'api' })
  })

  it('a SKU code with / and # travels percent-encoded in the path', async () => {
    const res = await api('PUT', '/api/v1/skus/PAL%2F100%2360', { token: tokens.alice, json: { reorder_point: 2, safety_stock: 1, lead_time: '4h' } })
    expect(res.status).toBe(200)
    expect(res.body.policy.sku).toBe('PAL/100#60')
    expect((await get('/api/v1/stock/PAL%2F100%2360')).body.stock).toMatchObject({ sku: 'PAL/100#60', total: 0, policy: { reorder_point: 2 } })
  })

  it.each([
    ['SKU-0001', { reorder_point: 'ten' }, ['reorder_point: expected a finite number, got string "ten"']],
    ['SKU-0001', { reorder_point: 5.5, pack_size: 0 }, ['reorder_point: expected an integer', 'pack_size:']],
    ['SKU-0001', { reorder_pont: 40 }, ['reorder_pont: unknown field']],
    ['SKU-0001', {}, ['body: send at least one field']],
    ['SKU-0001', { sku: 'SKU-0002' }, ['sku: "SKU-0002" differs from the SKU in the path']],
    // Checked against the stored policy by the runtime: the merged policy is what must hold.
    ['SKU-0001', { safety_stock: 40 }, ['safety_stock: 40 must be at most reorder_point (30)']],
    ['SKU-0200', { reorder_point: 10 }, ['safety_stock:', 'lead_time:']],
  ])('PUT /api/v1/skus/%s %j is a 400 naming the field', async (sku, json, expected) => {
    const res = await api('PUT', `/api/v1/skus/${sku}`, { token: tokens.alice, json })
    expect(res.status).toBe(400)
    const errors: string[] = res.body.error.details.errors
    expect(errors).toHaveLength(expected.length)
    expected.forEach((e, i) => expect(errors[i]).toContain(e))
  })

  it('a refused edit changed nothing', async () => {
    expect((await get('/api/v1/stock/SKU-0001')).body.stock.policy).toMatchObject({ reorder_point: 30, safety_stock: 24 })
    expect((await get('/api/v1/stock/SKU-0200')).status).toBe(404)
  })
})

describe('shipments from tracker events', () => {
  beforeAll(async () => {
    const topic = topicOf('test', 'tracker-1', 'shipment')
    const t = Date.now() - 60_000
    await publishAcked(tracker, topic, JSON.stringify({ v: 1, ts: t, shipmentId: 'SH-1', status: 'departed' }))
    // A step before departed, stamped after it: time went backwards, an anomaly.
    await publishAcked(tracker, topic, JSON.stringify({ v: 1, ts: t + 1000, shipmentId: 'SH-1', status: 'released' }))
    await publishAcked(tracker, topic, JSON.stringify({ v: 1, ts: t, shipmentId: 'SH-2', status: 'exception', note: 'pallet damaged' }))
  })

  it('GET /api/v1/shipments lists them, filtered by status', async () => {
    const all = await eventually('/api/v1/shipments', (b) => b.shipments.length === 2)
    expect(all.shipments.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ['SH-1', 'departed'],
      ['SH-2', 'exception'],
    ])
    expect((await get('/api/v1/shipments?status=exception')).body.shipments).toEqual([expect.objectContaining({ id: 'SH-2', note: 'pallet damaged' })])
    expect((await get('/api/v1/shipments?status=lost')).status).toBe(400)
  })

  it('GET /api/v1/shipments/{id} includes its anomalies; 404 for an unknown one', async () => {
    const { body } = await get('/api/v1/shipments/SH-1')
    expect(body.shipment).toMatchObject({ id: 'SH-1', status: 'departed', steps: { departed: expect.any(Number), released: expect.any(Number) } })
    expect(body.anomalies).toEqual([expect.objectContaining({ shipment: 'SH-1', status: 'released', source: 'tracker', device: 'tracker-1' })])
    expect((await get('/api/v1/shipments/SH-404')).status).toBe(404)
  })
})

describe('OpenAPI', () => {
  it('lists every query parameter the warehouse routes accept', () => {
    const params = (path: keyof typeof openApiDocument.paths) =>
      ((openApiDocument.paths[path].get as { parameters?: Array<{ name: string }> }).parameters ?? []).map((p) => p.name).sort()
    expect(params('/api/v1/alerts')).toEqual(Object.keys(AlertsQuerySchema.shape).sort())
    expect(params('/api/v1/stock')).toEqual(Object.keys(StockQuerySchema.shape).sort())
    expect(params('/api/v1/shipments')).toEqual(Object.keys(ShipmentsQuerySchema.shape).sort())
  })

  it('describes the path parameters of every templated path', () => {
    for (const [path, item] of Object.entries(openApiDocument.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
      for (const op of Object.values(item as Record<string, { parameters?: Array<{ name: string; in: string }> }>)) {
        expect(op.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? [], path).toEqual(names)
      }
    }
  })
})
