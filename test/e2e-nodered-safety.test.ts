/**
 * Node-RED inside the gateway cannot hurt ingest or open a door: a flow whose function node throws on
 * every message, and then a crash of the whole Node-RED thread, while devices publish; every message
 * is still acknowledged and stored exactly once, the errors are counted, and Node-RED comes back with
 * its flows. `/red` and `/hooks` refuse callers without an admin token, over HTTP and WebSocket.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { identityOf } from '../gateway/broker/identity.ts'
import { MQTT_USERNAME } from '../gateway/nodered/host.ts'
import { deadLetterRows, httpCall, httpGet, publishAll, scrapeMetric, waitFor, within } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

/** A tab whose function node throws for every reading it is given. */
const THROWING_FLOW = [
  { id: 'boom-tab', type: 'tab', label: 'Throws on every reading', env: [{ name: 'API_KEY', type: 'cred', value: 's3cret-value' }] },
  { id: 'boom-in', type: 'stockyard-events-in', z: 'boom-tab', name: 'readings', kind: 'reading', wires: [['boom-fn']] },
  {
    id: 'boom-fn',
    type: 'function',
    z: 'boom-tab',
    name: 'throws',
    func: "throw new Error('boom at seq ' + msg.payload.seq)",
    outputs: 1,
    wires: [[]],
  },
]

let gw: TestGateway
let admin: string
let viewer: string
let devices: MqttClient[]
/** Filters Node-RED's MQTT client has subscribed to. */
const subscribed: string[] = []

beforeAll(async () => {
  const flowsDir = join(tempDir(), 'flows')
  mkdirSync(flowsDir)
  writeFileSync(join(flowsDir, 'boom.json'), JSON.stringify(THROWING_FLOW))
  gw = await startTestGateway({ nodeRed: { enabled: true, flowsDir: flowsDir } })
  gw.broker.aedes.on('subscribe', (subs, client) => {
    const id = identityOf(client)
    if (id?.type === 'internal' && id.username === MQTT_USERNAME) subscribed.push(...subs.map((s) => s.topic))
  })
  admin = gw.token('admin')
  viewer = gw.token('viewer')
  devices = await Promise.all(['env-a', 'env-b'].map(async (id) => connectDevice(gw.ports.mqtt, await gw.addDevice(id))))
  await within(gw.nodeRed!.ready(), 30_000, 'Node-RED started')
})

afterAll(async () => {
  for (const d of devices ?? []) await d.endAsync()
  await gw?.dispose()
})

describe('a flow that throws, and a crash of the Node-RED thread', () => {
  it('leave ingest exact: every message acknowledged and stored once; errors and the restart counted; flows back', async () => {
    expect(await waitFor(() => subscribed.includes('stockyard/v1/test/+/reading'), 10_000)).toBe(true)
    const before = await scrapeMetric(gw, admin, 'stockyard_ingest_messages_total', { kind: 'reading' })
    const N = 1500
    const batch = (d: number, from: number, to: number): Array<{ topic: string; payload: string }> =>
      Array.from({ length: to - from }, (_, i) => ({
        topic: topicOf('test', `env-${'ab'[d]}`, 'reading'),
        payload: JSON.stringify({ v: 1, ts: Date.now(), seq: from + i, metrics: { temperature_c: 4 + (i % 3) } }),
      }))
    // First part with Node-RED throwing on every message...
    const first = await Promise.all(devices.map((c, d) => publishAll(c, batch(d, 0, N / 2), 64)))
    expect(await waitFor(async () => (await scrapeMetric(gw, admin, 'stockyard_nodered_errors_total', { source: 'node' })) >= 10, 10_000)).toBe(true)
    // ...then the thread is killed while the second part is in flight.
    const second = Promise.all(devices.map((c, d) => publishAll(c, batch(d, N / 2, N), 64)))
    await gw.nodeRed!.kill()
    const acked = [...first, ...(await second)].reduce((a, b) => a + b, 0)
    expect(acked).toBe(2 * N)
    expect(await waitFor(async () => (await scrapeMetric(gw, admin, 'stockyard_ingest_messages_total', { kind: 'reading' })) - before === 2 * N, 10_000)).toBe(
      true,
    )
    expect(deadLetterRows(gw)).toEqual([])
    // Each message is one point; read the SQLite file itself.
    const db = new Database(join(gw.dataDir, 'stockyard.db'), { readonly: true })
    expect(db.prepare('SELECT count(*) AS n FROM points').get()).toEqual({ n: 2 * N })
    db.close()
    expect(await scrapeMetric(gw, admin, 'stockyard_nodered_restarts_total')).toBe(1)
    // The restart is 5 s after the crash; the deployed flows come back from the data dir.
    await within(gw.nodeRed!.ready(), 30_000, 'Node-RED restarted')
    expect(await scrapeMetric(gw, admin, 'stockyard_nodered_up')).toBe(1)
    const flows = await httpCall(gw, 'GET', '/red/flows', admin)
    expect(flows.status).toBe(200)
    expect(JSON.stringify(flows.body)).toContain('boom-fn')
  }, 90_000)
})

describe('credentials of the shipped flows', () => {
  it("are encrypted at first start: a tab's cred env value is in neither flows.json, flows_cred.json nor the admin API", async () => {
    const dir = join(gw.dataDir, 'node-red')
    expect(await waitFor(() => existsSync(join(dir, 'flows_cred.json')), 5000)).toBe(true)
    expect(readFileSync(join(dir, 'flows.json'), 'utf8')).not.toContain('s3cret')
    const cred = readFileSync(join(dir, 'flows_cred.json'), 'utf8')
    expect(cred).not.toContain('s3cret')
    expect(JSON.parse(cred)).toHaveProperty('$')
    expect((await httpGet(gw, '/red/flows', admin)).text).not.toContain('s3cret')
  })
})

describe('/red and /hooks need an admin token', () => {
  it('refuse requests with no token (401), a viewer token (403) and an unknown token (401)', async () => {
    for (const path of ['/red/', '/red/flows', '/red/settings', '/hooks/wms/receipts']) {
      expect((await httpGet(gw, path)).status, path).toBe(401)
      expect((await httpGet(gw, path, viewer)).status, path).toBe(403)
      expect((await httpGet(gw, path, 'not-a-token')).status, path).toBe(401)
    }
    expect((await httpCall(gw, 'POST', '/red/flows', undefined, [])).status).toBe(401)
    expect((await httpCall(gw, 'POST', '/red/flows', viewer, [])).status).toBe(403)
    const ok = await httpGet(gw, '/red/settings', admin)
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ httpNodeRoot: '/hooks' })
  })

  it('with the session cookie: an admin may read; a change needs the editor header; a viewer session is refused', async () => {
    const login = async (token: string): Promise<string> => {
      const res = await fetch(gw.url('/api/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })
      return res.headers.get('set-cookie')!.split(';')[0]!
    }
    const adminCookie = await login(admin)
    const viewerCookie = await login(viewer)
    expect((await fetch(gw.url('/red/settings'), { headers: { cookie: viewerCookie } })).status).toBe(403)
    expect((await fetch(gw.url('/red/settings'), { headers: { cookie: adminCookie } })).status).toBe(200)
    const flows = (await (await fetch(gw.url('/red/flows'), { headers: { cookie: adminCookie, 'node-red-api-version': 'v2' } })).json()) as {
      rev: string
      flows: unknown[]
    }
    const post = (headers: Record<string, string>): Promise<Response> =>
      fetch(gw.url('/red/flows'), {
        method: 'POST',
        headers: { cookie: adminCookie, 'content-type': 'application/json', 'node-red-deployment-type': 'reload', ...headers },
        body: JSON.stringify({ rev: flows.rev, flows: flows.flows }),
      })
    // A cross-site form could send the cookie, not a custom header.
    expect((await post({})).status).toBe(403)
    expect((await post({ 'node-red-api-version': 'v2' })).status).toBe(200)
  })

  it("refuse the editor's WebSocket without admin credentials, or from another site's page", async () => {
    const open = (headers: Record<string, string>): Promise<'open' | number> =>
      within(
        new Promise((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${gw.ports.http}/red/comms`, { headers })
          ws.once('open', () => {
            ws.close()
            resolve('open')
          })
          ws.once('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0)
            ws.terminate()
          })
          ws.once('error', () => resolve(0))
        }),
        10_000,
        'websocket answer',
      )
    expect(await open({})).toBe(401)
    expect(await open({ authorization: `Bearer ${viewer}` })).toBe(403)
    expect(await open({ authorization: `Bearer ${admin}` })).toBe('open')
    const res = await fetch(gw.url('/api/v1/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: admin }),
    })
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    expect(await open({ cookie, origin: `http://127.0.0.1:${gw.ports.http}` })).toBe('open')
    expect(await open({ cookie, origin: 'http://evil.example' })).toBe(403)
  })
})
