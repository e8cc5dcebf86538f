/**
 * Rules end to end, in real time: a scanner device's picks over MQTT drive a SKU below its reorder
 * point, and exactly one alert appears on the alerts topic, in /api/v1/alerts and at a local webhook
 * receiver; a receive brings it back and it resolves everywhere. Also the shipment SLA with a
 * short deadline, and a bad rule file that leaves the running rules alone.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashSecret } from '../gateway/auth/secrets.ts'
import { getJson, publishAcked, waitFor } from './helpers/e2e.ts'
import { connectDevice, connectMqtt, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

const PACK = `
version: 1
rules:
  - id: reorder-point
    condition: { kind: stock, below: reorder_point, clear: 30 }
    severity: warning
    annotations: { summary: '{{ labels.sku }}: {{ value }} on hand, reorder point {{ threshold }}' }
    notify: [mqtt, bus, webhook:ops]
  - id: dispatch-sla
    condition: { kind: shipment_sla, step: released->loaded, within: 1500ms }
    severity: critical
    notify: [mqtt, webhook:ops]
`
const SKUS = `
version: 1
skus:
  - { sku: SKU-7, reorder_point: 20, safety_stock: 5, lead_time: 2d }
`

interface Received {
  topic: string
  retained: boolean
  body: Record<string, unknown> | null
}

let gw: TestGateway
let receiver: Server
const hooks: Array<Record<string, unknown>> = []
let watcher: MqttClient
const onTopic: Received[] = []
let scanner: MqttClient
let tracker: MqttClient
let rulesDir: string
let admin: string

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      hooks.push(JSON.parse(body) as Record<string, unknown>)
      res.end('ok')
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  rulesDir = join(tempDir(), 'rules')
  mkdirSync(rulesDir)
  writeFileSync(join(rulesDir, 'site.yaml'), PACK)
  writeFileSync(join(rulesDir, 'skus.yaml'), SKUS)
  gw = await startTestGateway({
    rules: { dir: rulesDir, watch: true },
    notify: { webhooks: { ops: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` } }, retryBaseMs: 50 },
    mqtt: { internalClients: [{ username: 'watcher', passwordHash: await hashSecret('watch'), subscribe: ['stockyard/v1/+/alerts/#'] }] },
  })
  admin = gw.token('admin')
  watcher = await connectMqtt(gw.ports.mqtt, { username: 'watcher', password: 'watch', clientId: 'watcher-1' })
  watcher.on('message', (topic, payload, packet) =>
    onTopic.push({ topic, retained: packet.retain, body: payload.length ? (JSON.parse(payload.toString()) as Record<string, unknown>) : null }),
  )
  await watcher.subscribeAsync('stockyard/v1/test/alerts/#', { qos: 1 })
  scanner = await connectDevice(gw.ports.mqtt, await gw.addDevice('scan-1', { kind: 'scanner' }))
  tracker = await connectDevice(gw.ports.mqtt, await gw.addDevice('trk-1', { kind: 'tracker' }))
})

afterAll(async () => {
  await Promise.all([watcher?.endAsync(), scanner?.endAsync(), tracker?.endAsync()])
  await gw?.dispose()
  await new Promise((r) => receiver?.close(r))
})

const scan = (event: string, qty: number): Promise<void> =>
  publishAcked(scanner, topicOf('test', 'scan-1', 'scan'), JSON.stringify({ v: 1, ts: Date.now(), event, sku: 'SKU-7', qty, location: 'A-01' }))

interface AlertJson {
  id: string
  rule: string
  state: string
  labels: Record<string, string>
  annotations: Record<string, string>
}

const alertsOf = async (rule: string): Promise<AlertJson[]> =>
  (await getJson<{ alerts: AlertJson[] }>(gw, `/api/v1/alerts?rule=${rule}`, gw.token('viewer'))).alerts

describe('picks drive a SKU below its reorder point', () => {
  it('gives exactly one alert on the alerts topic, in /api/v1/alerts and at the webhook; a receive resolves it everywhere', async () => {
    await scan('receive', 40)
    for (let i = 0; i < 25; i++) await scan('pick', 1) // 40 -> 15, below 20 from the 21st pick on
    expect(await waitFor(() => hooks.length >= 1 && onTopic.length >= 1, 5000)).toBe(true)
    await new Promise((r) => setTimeout(r, 300)) // room for a (wrong) second notification to show up
    const firing = onTopic.filter((m) => m.body?.event === 'firing')
    expect(firing).toHaveLength(1)
    expect(firing[0]!.retained).toBe(false) // live delivery; the broker keeps a retained copy
    const body = firing[0]!.body as { alert: AlertJson }
    expect(firing[0]!.topic).toBe(`stockyard/v1/test/alerts/reorder-point/${body.alert.id}`)
    expect(body.alert.annotations.summary).toBe('SKU-7: 19 on hand, reorder point 20')
    expect(hooks.filter((h) => h.event === 'firing')).toHaveLength(1)
    expect((hooks[0]!.alert as AlertJson).id).toBe(body.alert.id)
    const listed = await alertsOf('reorder-point')
    expect(listed.map((a) => [a.id, a.state])).toEqual([[body.alert.id, 'firing']])

    // A client that subscribes now gets the firing alert, retained.
    const late = await connectMqtt(gw.ports.mqtt, { username: 'watcher', password: 'watch', clientId: 'watcher-2' })
    const retained: Received[] = []
    late.on('message', (topic, payload, packet) =>
      retained.push({ topic, retained: packet.retain, body: payload.length ? JSON.parse(payload.toString()) : null }),
    )
    await late.subscribeAsync('stockyard/v1/test/alerts/#', { qos: 1 })
    expect(await waitFor(() => retained.length === 1, 2000)).toBe(true)
    expect(retained[0]).toMatchObject({ retained: true, body: { event: 'firing' } })
    await late.endAsync()

    await scan('receive', 20) // 35: above the clear level (30)
    expect(await waitFor(() => hooks.some((h) => h.event === 'resolved') && onTopic.some((m) => m.body?.event === 'resolved'), 5000)).toBe(true)
    expect((await alertsOf('reorder-point')).map((a) => a.state)).toEqual(['resolved'])
    // The retained copy is cleared: a new subscriber gets nothing.
    const after = await connectMqtt(gw.ports.mqtt, { username: 'watcher', password: 'watch', clientId: 'watcher-3' })
    let got = 0
    after.on('message', () => got++)
    await after.subscribeAsync('stockyard/v1/test/alerts/reorder-point/#', { qos: 1 })
    await new Promise((r) => setTimeout(r, 300))
    await after.endAsync()
    expect(got).toBe(0)
    expect(hooks.filter((h) => h.event === 'firing')).toHaveLength(1)
  })
})

describe('shipment SLA over MQTT', () => {
  it('a released shipment without loaded by its deadline fires; a late loaded resolves it', async () => {
    const ship = (status: string): Promise<void> =>
      publishAcked(tracker, topicOf('test', 'trk-1', 'shipment'), JSON.stringify({ v: 1, ts: Date.now(), shipmentId: 'SH-77', status }))
    const released = Date.now()
    await ship('released')
    expect(await waitFor(() => hooks.some((h) => h.event === 'firing' && (h.alert as AlertJson).rule === 'dispatch-sla'), 5000)).toBe(true)
    expect(Date.now() - released).toBeGreaterThanOrEqual(1500)
    await ship('loaded')
    expect(await waitFor(() => hooks.some((h) => h.event === 'resolved' && (h.alert as AlertJson).rule === 'dispatch-sla'), 5000)).toBe(true)
    const [a] = await alertsOf('dispatch-sla')
    expect(a).toMatchObject({ state: 'resolved', labels: { shipment: 'SH-77', step: 'released->loaded' } })
  })
})

describe('hot reload', () => {
  it('a bad rule file leaves the running rules untouched, and the error names file, rule and field', async () => {
    const bad = join(rulesDir, 'broken.yaml')
    writeFileSync(bad, 'version: 1\nrules:\n  - id: oops\n    condition: { kind: stock, below: reorder_point, clera: 3 }\n    severity: warning\n')
    let errors: string[] = []
    expect(
      await waitFor(async () => {
        errors = (await getJson<{ lastReloadErrors: string[] }>(gw, '/api/v1/rules', admin)).lastReloadErrors
        return errors.length > 0
      }, 5000),
    ).toBe(true)
    expect(errors.join('\n')).toContain(`${bad}: rule oops: condition.clera: unknown key`)
    const rules = await getJson<{ packs: Array<{ rules: Array<{ id: string }> }> }>(gw, '/api/v1/rules', admin)
    expect(rules.packs.flatMap((p) => p.rules.map((r) => r.id)).sort()).toEqual(['dispatch-sla', 'reorder-point'])
    // The old rules still run: the SKU goes low again and fires again.
    for (let i = 0; i < 16; i++) await scan('pick', 1)
    expect(await waitFor(() => hooks.filter((h) => h.event === 'firing' && (h.alert as AlertJson).rule === 'reorder-point').length === 2, 5000)).toBe(true)
    // Fixing the file applies it, keeping the alert state of the unchanged rules.
    writeFileSync(bad, 'version: 1\nrules:\n  - id: oops\n    condition: { kind: stock, below: 3 }\n    severity: warning\n')
    expect(
      await waitFor(async () => {
        const r = await getJson<{ packs: Array<{ rules: Array<{ id: string }> }>; lastReloadErrors: string[] }>(gw, '/api/v1/rules', admin)
        return r.lastReloadErrors.length === 0 && r.packs.length === 2
      }, 5000),
    ).toBe(true)
    expect((await alertsOf('reorder-point')).map((a) => a.state)).toEqual(['firing'])
  })
})

describe('no rules directory', () => {
  it('starts without rules (a warning, not a failed start); PUT /api/v1/rules/{file} creates the directory and applies the pack', async () => {
    const missing = join(tempDir('stockyard-norules-'), 'rules')
    const other = await startTestGateway({ rules: { dir: missing } })
    try {
      const admin = other.token('admin')
      const before = await getJson<{ packs: unknown[] }>(other, '/api/v1/rules', admin)
      expect(before.packs).toEqual([])
      const res = await fetch(other.url('/api/v1/rules/site.yaml'), { method: 'PUT', headers: { authorization: `Bearer ${admin}` }, body: PACK })
      expect(res.status, await res.clone().text()).toBe(200)
      const after = await getJson<{ packs: Array<{ file: string }> }>(other, '/api/v1/rules', admin)
      expect(after.packs.map((p) => p.file)).toEqual(['site.yaml'])
      expect(existsSync(join(missing, 'site.yaml'))).toBe(true)
    } finally {
      await other.dispose()
    }
  })
})
