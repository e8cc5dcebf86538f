/**
 * Who may connect, publish, subscribe and read, end to end: real mqtt.js clients against the running
 * gateway, the stockyard CLI as a child process on the live data dir, and fetch against every route
 * of the HTTP API. Return codes cite MQTT 3.1.1 (CONNACK 3.2.2.3, SUBACK 3.9.3).
 */
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashSecret } from '../gateway/auth/secrets.ts'
import { ROUTES, type Route } from '../gateway/http/index.ts'
import type { DeviceCredentials, Role } from '../gateway/store/types.ts'
import { connectDevice, connectMqtt, startTestGateway, topicOf, type TestGateway } from './helpers/gateway.ts'
import { closedWithin, connackCode, deadLetterRows, httpCall, httpGet, Inbox, publishAcked, scrapeMetric, stockyardCli, subackCodes } from './helpers/e2e.ts'

const BAD_USER_OR_PASSWORD = 4 // [MQTT-3.2.2.3] 0x04 Connection Refused, bad user name or password
const NOT_AUTHORIZED = 5 // [MQTT-3.2.2.3] 0x05 Connection Refused, not authorized
const SUBACK_FAILURE = 128 // [MQTT-3.9.3] 0x80 Failure
/** The gateway re-reads the registry every second; a session of a disabled device must end within ~2 s. */
const SESSION_END_MS = 2500

const RULES_USER = 'rules'
const RULES_PASSWORD = 'rules-secret-for-tests'

let gw: TestGateway
let viewer: string
let a: DeviceCredentials
let b: DeviceCredentials

const reading = (seq: number): string => JSON.stringify({ v: 1, ts: Date.now(), seq, metrics: { temperature_c: 4.5 } })

beforeAll(async () => {
  gw = await startTestGateway({
    mqtt: {
      internalClients: [
        // An internal client (a rules engine, say) that sees every device topic and may send commands.
        { username: RULES_USER, passwordHash: await hashSecret(RULES_PASSWORD), subscribe: ['stockyard/v1/#'], publish: ['stockyard/v1/test/+/cmd/#'] },
        // An over-broad internal client: even it must not read the parked refused messages.
        { username: 'everything', passwordHash: await hashSecret(RULES_PASSWORD), subscribe: ['#', '$stockyard/#'], publish: [] },
      ],
    },
  })
  viewer = gw.token('viewer')
  a = await gw.addDevice('dev-a')
  b = await gw.addDevice('dev-b')
})

afterAll(async () => {
  await gw?.dispose()
})

describe('MQTT CONNECT', () => {
  const cases: Array<{ name: string; creds: () => { username?: string; password?: string }; code: number; reason: string }> = [
    { name: 'a wrong password', creds: () => ({ username: a.username, password: 'not-the-password' }), code: BAD_USER_OR_PASSWORD, reason: 'bad_password' },
    { name: 'an unknown device', creds: () => ({ username: 'no-such-device', password: a.password }), code: BAD_USER_OR_PASSWORD, reason: 'unknown' },
    { name: 'no credentials', creds: () => ({}), code: NOT_AUTHORIZED, reason: 'no_credentials' },
    { name: 'a user name without a password', creds: () => ({ username: a.username }), code: NOT_AUTHORIZED, reason: 'no_credentials' },
  ]

  it.each(cases)('refuses $name with CONNACK $code, counted as $reason', async ({ creds, code, reason }) => {
    const before = await scrapeMetric(gw, viewer, 'stockyard_mqtt_auth_failures_total', { reason })
    expect(await connackCode(gw.ports.mqtt, { clientId: 'intruder', ...creds() })).toBe(code)
    expect(await scrapeMetric(gw, viewer, 'stockyard_mqtt_auth_failures_total', { reason })).toBe(before + 1)
  })

  it('refuses a disabled device with CONNACK 5 even with its right password', async () => {
    const c = await gw.addDevice('dev-disabled')
    gw.store.devices.disable(c.id)
    expect(await connackCode(gw.ports.mqtt, { clientId: c.id, username: c.username, password: c.password })).toBe(NOT_AUTHORIZED)
    gw.store.devices.enable(c.id)
    expect(await connackCode(gw.ports.mqtt, { clientId: c.id, username: c.username, password: c.password })).toBe(0)
  })

  it('refuses the same credentials over WebSocket', async () => {
    expect(await connackCode(gw.ports.ws, { clientId: 'intruder', username: a.username, password: 'nope' }, 'ws')).toBe(BAD_USER_OR_PASSWORD)
    expect(await connackCode(gw.ports.ws, { clientId: a.id, username: a.username, password: a.password }, 'ws')).toBe(0)
  })

  it('accepts anonymous clients only on a gateway configured with mqtt.allowAnonymous', async () => {
    const open = await startTestGateway({ mqtt: { allowAnonymous: true } })
    try {
      expect(await connackCode(open.ports.mqtt, { clientId: 'anon' })).toBe(0)
      expect(await connackCode(gw.ports.mqtt, { clientId: 'anon' })).toBe(NOT_AUTHORIZED)
    } finally {
      await open.dispose()
    }
  })
})

describe('topic rights of a device', () => {
  let devA: MqttClient
  let devB: MqttClient
  let rules: MqttClient
  let aErrors: Inbox
  let bCmd: Inbox
  let bErrors: Inbox
  let rulesSees: Inbox[]

  beforeAll(async () => {
    devA = await connectDevice(gw.ports.mqtt, a)
    devB = await connectDevice(gw.ports.mqtt, b)
    rules = await connectMqtt(gw.ports.mqtt, { clientId: 'rules-1', username: RULES_USER, password: RULES_PASSWORD })
    aErrors = await Inbox.open(devA, topicOf('test', a.id, 'errors'))
    bCmd = await Inbox.open(devB, `${topicOf('test', b.id, 'cmd')}/#`)
    bErrors = await Inbox.open(devB, topicOf('test', b.id, 'errors'))
    // What an internal subscriber gets on B's topics and on A's reading topic.
    rulesSees = await Promise.all(
      [topicOf('test', b.id, 'reading'), topicOf('test', b.id, 'cmd/reboot'), topicOf('test', b.id, 'errors'), topicOf('test', a.id, 'reading')].map((t) =>
        Inbox.open(rules, t),
      ),
    )
  })

  afterAll(async () => {
    await Promise.all([devA?.endAsync(), devB?.endAsync(), rules?.endAsync()])
  })

  const forgeries = [
    { target: 'reading', payload: () => reading(1) },
    { target: 'cmd/reboot', payload: () => JSON.stringify({ cmd: 'reboot' }) },
    { target: 'errors', payload: () => JSON.stringify({ code: 'payload.invalid', message: 'forged', topic: 'x', seq: null }) },
  ]

  it.each(forgeries)('refuses A publishing to B’s $target topic: acked, not stored, explained on A’s errors topic', async ({ target, payload }) => {
    const topic = topicOf('test', b.id, target)
    const before = deadLetterRows(gw, { code: 'topic.not_allowed', device: a.id }).length
    // [MQTT-3.3.5-2] an unauthorised PUBLISH gets a positive ack (or a closed connection); we ack and explain.
    await publishAcked(devA, topic, payload())
    const err = await aErrors.next()
    expect(err).toEqual({ code: 'topic.not_allowed', message: expect.stringContaining(`stockyard/v1/test/${a.id}/`), topic, seq: null })
    expect(devA.connected).toBe(true)
    const rows = deadLetterRows(gw, { code: 'topic.not_allowed', device: a.id })
    expect(rows).toHaveLength(before + 1)
    expect(rows.at(-1)).toMatchObject({ device: a.id, topic })
    expect(gw.store.series.countPoints({ device: b.id })).toBe(0)
    expect(gw.store.series.countPoints({ device: a.id })).toBe(0)
  })

  it('never delivers A’s forged messages to B or to an internal subscriber of B’s topics', async () => {
    // Sentinels sent after the forgeries: once they arrive, anything forged would have arrived first.
    await rules.publishAsync(topicOf('test', b.id, 'cmd/ping'), JSON.stringify({ cmd: 'ping' }), { qos: 1 })
    await publishAcked(devA, topicOf('test', a.id, 'reading'), reading(2))
    expect(await bCmd.next()).toEqual({ cmd: 'ping' })
    expect(await rulesSees[3]!.next()).toMatchObject({ seq: 2 })
    expect(bCmd.unread).toBe(0)
    expect(bErrors.messages).toEqual([])
    for (const inbox of rulesSees.slice(0, 3)) expect(inbox.messages, inbox.topic).toEqual([])
    expect(gw.store.series.countPoints({ device: a.id })).toBe(1)
  })

  const refusedFilters = [
    { filter: '#', why: 'every topic' },
    { filter: 'stockyard/v1/test/+/cmd/#', why: 'every device’s commands' },
    { filter: 'stockyard/v1/test/dev-b/cmd/#', why: 'B’s commands' },
    { filter: 'stockyard/v1/test/dev-b/errors', why: 'B’s errors' },
    { filter: 'stockyard/v1/test/dev-a/reading', why: 'its own readings (devices only get cmd and errors)' },
    { filter: '$stockyard/#', why: 'refused messages, hidden under $stockyard/rejected' },
  ]

  it.each(refusedFilters)('answers SUBACK 0x80 to A subscribing to $filter ($why) and keeps A connected', async ({ filter }) => {
    expect(await subackCodes(devA, filter)).toEqual([SUBACK_FAILURE])
    expect(devA.connected).toBe(true)
  })

  it.each([`stockyard/v1/test/dev-a/cmd/#`, `stockyard/v1/test/dev-a/cmd`, `stockyard/v1/test/dev-a/errors`])('grants A its own %s', async (filter) => {
    expect(await subackCodes(devA, filter)).toEqual([1])
  })

  it('answers each filter of one SUBSCRIBE on its own: own errors granted, B’s errors refused', async () => {
    // [MQTT-3.9.3-1] one return code per filter, in order; a failure for one does not fail the others.
    expect(await subackCodes(devA, [topicOf('test', a.id, 'errors'), topicOf('test', b.id, 'errors')])).toEqual([1, SUBACK_FAILURE])
    expect(devA.connected).toBe(true)
  })
})

describe('disabling and rotating a live device', () => {
  async function connectedDevice(id: string): Promise<{ creds: DeviceCredentials; client: MqttClient }> {
    const creds = await gw.addDevice(id)
    return { creds, client: await connectDevice(gw.ports.mqtt, creds) }
  }

  it('closes the session of a device disabled through the registry within ~2 s, and refuses it afterwards', async () => {
    const { creds, client } = await connectedDevice('dev-reg-disable')
    gw.store.devices.disable(creds.id)
    expect(await closedWithin(client, SESSION_END_MS)).toBe(true)
    expect(await connackCode(gw.ports.mqtt, { clientId: creds.id, username: creds.username, password: creds.password })).toBe(NOT_AUTHORIZED)
  })

  it('closes the session of a device disabled with `stockyard devices disable` while the gateway runs', async () => {
    const { creds, client } = await connectedDevice('dev-cli-disable')
    const res = await stockyardCli(['devices', 'disable', '--data', gw.dataDir, '--id', creds.id])
    expect(res.code, res.stderr).toBe(0)
    expect(JSON.parse(res.stdout)).toEqual({ id: creds.id, disabled: true })
    expect(await closedWithin(client, SESSION_END_MS)).toBe(true)
    expect(await connackCode(gw.ports.mqtt, { clientId: creds.id, username: creds.username, password: creds.password })).toBe(NOT_AUTHORIZED)
    expect(gw.store.devices.get(creds.id)?.disabled).toBe(true)
  })

  it('refuses the old password after a rotate through the registry, and accepts the new one', async () => {
    const { creds, client } = await connectedDevice('dev-reg-rotate')
    const fresh = await gw.store.devices.rotate(creds.id)
    expect(await closedWithin(client, SESSION_END_MS)).toBe(true)
    expect(await connackCode(gw.ports.mqtt, { clientId: creds.id, username: creds.username, password: creds.password })).toBe(BAD_USER_OR_PASSWORD)
    expect(await connackCode(gw.ports.mqtt, { clientId: creds.id, username: fresh.username, password: fresh.password })).toBe(0)
  })

  it('closes the session and refuses the old password after `stockyard devices rotate`; the printed password works', async () => {
    const { creds, client } = await connectedDevice('dev-cli-rotate')
    const res = await stockyardCli(['devices', 'rotate', '--data', gw.dataDir, '--id', creds.id])
    expect(res.code, res.stderr).toBe(0)
    const fresh = JSON.parse(res.stdout) as DeviceCredentials
    expect(fresh.password).not.toBe(creds.password)
    expect(await closedWithin(client, SESSION_END_MS)).toBe(true)
    expect(await connackCode(gw.ports.mqtt, { clientId: creds.id, username: creds.username, password: creds.password })).toBe(BAD_USER_OR_PASSWORD)
    expect(await connackCode(gw.ports.mqtt, { clientId: creds.id, username: fresh.username, password: fresh.password })).toBe(0)
  })
})

describe('HTTP API on the running gateway', () => {
  /**
   * How each route is called here, and what it answers to a role allowed to call it. Routes with a
   * path parameter or a body get a harmless sample: an unknown id (404) or a body that fails
   * validation (400), so nothing on the shared gateway changes. A route without an entry is called
   * with GET on its path and must answer 200; a templated path without one fails the test.
   */
  const SAMPLE: Record<string, { url: string; json?: unknown; ok: number }> = {
    'GET /api/v1/series': { url: '/api/v1/series?metric=temperature_c', ok: 200 },
    'GET /api/v1/alerts/{id}': { url: '/api/v1/alerts/0123456789abcdef', ok: 404 },
    'GET /api/v1/alerts/history': { url: '/api/v1/alerts/history?from=2025-01-01T00:00:00Z', ok: 200 },
    'GET /api/v1/hq/rollups': { url: '/api/v1/hq/rollups?resolution=1h', ok: 200 },
    'POST /api/v1/hq/ack': { url: '/api/v1/hq/ack', json: { cursor: 'c1.x.y' }, ok: 400 },
    'GET /api/v1/movements': { url: '/api/v1/movements?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z', ok: 200 },
    'POST /api/v1/alerts/{id}/ack': { url: '/api/v1/alerts/0123456789abcdef/ack', ok: 404 },
    'POST /api/v1/silences': { url: '/api/v1/silences', json: {}, ok: 400 },
    'DELETE /api/v1/silences/{id}': { url: '/api/v1/silences/0123456789abcdef', ok: 404 },
    'PUT /api/v1/rules/{file}': { url: '/api/v1/rules/extra.yaml', json: {}, ok: 400 },
    'POST /api/v1/rules/reload': { url: '/api/v1/rules/reload', ok: 200 },
    'GET /api/v1/stock/{sku}': { url: '/api/v1/stock/NO-SUCH-SKU', ok: 404 },
    'GET /api/v1/shipments/{id}': { url: '/api/v1/shipments/NO-SUCH-SHIPMENT', ok: 404 },
    'PUT /api/v1/skus/{sku}': { url: '/api/v1/skus/SKU-0001', json: {}, ok: 400 },
    'GET /api/v1/forecast/{sku}': { url: '/api/v1/forecast/NO-SUCH-SKU', ok: 404 },
    'GET /api/v1/analytics/stats': { url: '/api/v1/analytics/stats?metric=temperature_c', ok: 200 },
    'POST /api/v1/analytics/refit': { url: '/api/v1/analytics/refit', ok: 202 },
    'POST /api/v1/session': { url: '/api/v1/session', json: { token: 'sy_unknown_' + 'x'.repeat(43) }, ok: 401 },
    // The live feed streams until the client goes; an unknown parameter answers at once, after the access check.
    'GET /api/v1/live': { url: '/api/v1/live?x=1', ok: 400 },
    'DELETE /api/v1/session': { url: '/api/v1/session', ok: 200 },
  }
  const sample = (r: Route): { url: string; json?: unknown; ok: number } => {
    const s = SAMPLE[`${r.method} ${r.path}`]
    if (s) return s
    if (r.path.includes('{') || r.method !== 'GET') throw new Error(`add a harmless sample call for ${r.method} ${r.path} to SAMPLE`)
    return { url: r.path, ok: 200 }
  }
  const RANK: Record<Role, number> = { viewer: 1, hq: 2, admin: 3 }
  const guarded = ROUTES.filter((r) => r.access !== 'public')
  const open = ROUTES.filter((r) => r.access === 'public')
  const tokens = {} as Record<Role, string>

  beforeAll(() => {
    for (const role of ['viewer', 'hq', 'admin'] as const) tokens[role] = gw.token(role)
  })

  it('has routes of both kinds to check', () => {
    expect(guarded.length).toBeGreaterThan(0)
    expect(open.length).toBeGreaterThan(0)
  })

  it.each(open)('$method $path answers without a token', async (route) => {
    const { url, json, ok } = sample(route)
    expect((await httpCall(gw, route.method, url, undefined, json)).status).toBe(ok)
  })

  it.each(guarded)('$method $path ($access) answers 401 without a token and with an unknown one', async (route) => {
    const { url, json } = sample(route)
    const none = await httpCall(gw, route.method, url, undefined, json)
    expect(none.status).toBe(401)
    expect(none.body).toMatchObject({ error: { code: 'auth.required' } })
    expect((await httpCall(gw, route.method, url, 'sy_unknown_' + 'x'.repeat(43), json)).status).toBe(401)
  })

  it.each(guarded)('$method $path ($access) answers each role by rank: its answer at or above $access, 403 below', async (route) => {
    const { url, json, ok } = sample(route)
    for (const role of ['viewer', 'hq', 'admin'] as const) {
      const res = await httpCall(gw, route.method, url, tokens[role], json)
      expect(res.status, `${role} on ${route.method} ${url}: ${res.text.slice(0, 200)}`).toBe(RANK[role] >= RANK[route.access as Role] ? ok : 403)
    }
  })

  it('accepts a token created with `stockyard tokens add` while it runs, and refuses it once revoked with the CLI', async () => {
    const added = await stockyardCli(['tokens', 'add', '--data', gw.dataDir, '--role', 'viewer', '--name', 'grafana'])
    expect(added.code, added.stderr).toBe(0)
    const { id, token } = JSON.parse(added.stdout) as { id: string; token: string }
    expect((await httpGet(gw, '/api/v1/devices', token)).status).toBe(200)
    const revoked = await stockyardCli(['tokens', 'revoke', '--data', gw.dataDir, '--id', id])
    expect(revoked.code, revoked.stderr).toBe(0)
    expect((await httpGet(gw, '/api/v1/devices', token)).status).toBe(401)
  })

  it('lists the devices registered on the running gateway, without credentials', async () => {
    const { body } = await httpGet(gw, '/api/v1/devices', viewer)
    const devices = (body as { devices: Array<Record<string, unknown>> }).devices
    expect(devices.map((d) => d.id)).toEqual(expect.arrayContaining([a.id, b.id]))
    for (const d of devices) {
      expect(d).not.toHaveProperty('username')
      expect(d).not.toHaveProperty('secret')
    }
  })
})

describe('refused messages parked on $stockyard/rejected', () => {
  it.each(['$stockyard/rejected', '$stockyard/#'])('refuses %s even to an internal client granted # and $stockyard/#', async (filter) => {
    const wide = await connectMqtt(gw.ports.mqtt, { clientId: 'wide-1', username: 'everything', password: RULES_PASSWORD })
    try {
      expect(await subackCodes(wide, filter)).toEqual([SUBACK_FAILURE])
      expect(await subackCodes(wide, 'stockyard/v1/test/dev-a/reading')).toEqual([1])
    } finally {
      await wide.endAsync()
    }
  })
})
