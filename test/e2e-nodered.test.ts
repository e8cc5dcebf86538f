/**
 * The shipped flows end to end, in the gateway's embedded Node-RED, with their targets pointed at a
 * local HTTP receiver and a local SMTP server: a rule fired by an MQTT reading reaches the alert
 * webhook formatted, and the mailbox (and one below the minimum severity does not); an unacknowledged critical alert is escalated after the
 * (shortened) delay and an acknowledged one is not; the shift report is posted on demand; the WMS
 * bridge takes an expected receipt over /hooks, counts receive scans and reports the deviation.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { SMTPServer } from 'smtp-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashSecret } from '../gateway/auth/secrets.ts'
import { identityOf } from '../gateway/broker/identity.ts'
import { MQTT_USERNAME } from '../gateway/nodered/host.ts'
import { getJson, httpCall, publishAcked, REPO_ROOT, waitFor, within } from './helpers/e2e.ts'
import { connectDevice, connectMqtt, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

const PACK = `
version: 1
rules:
  - id: cold-room-hot
    condition: { kind: threshold, metric: temperature_c, window: { type: sliding, size: 1s }, agg: max, op: '>', value: 8 }
    severity: critical
    annotations: { summary: '{{ labels.device }} is at {{ value }} °C' }
    notify: [mqtt]
  - id: humid
    condition: { kind: threshold, metric: humidity_pct, window: { type: sliding, size: 1s }, agg: max, op: '>', value: 90 }
    severity: info
    notify: [mqtt]
`

type Body = Record<string, unknown>
/** What the receiver got, by path. */
const received: Record<string, Body[]> = {}
let receiver: Server
let smtp: SMTPServer
/** Mails the SMTP server took: envelope recipients and the raw message. */
const mails: Array<{ to: string[]; raw: string }> = []
let gw: TestGateway
let admin: string
let watcher: MqttClient
const deviations: Body[] = []
const env: Record<string, MqttClient> = {}
let scanner: MqttClient
const subscribed: string[] = []

const ESCALATE_AFTER_S = 2

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      ;(received[req.url!] ??= []).push(JSON.parse(body) as Body)
      res.end('ok')
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  const at = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
  // A real SMTP server on the loopback, plain text (no STARTTLS offered), no login.
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      let raw = ''
      stream.on('data', (c: Buffer) => (raw += c.toString()))
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw })
        callback()
      })
    },
  })
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r))
  const smtpPort = (smtp.server.address() as AddressInfo).port
  const rulesDir = join(tempDir(), 'rules')
  mkdirSync(rulesDir)
  writeFileSync(join(rulesDir, 'site.yaml'), PACK)
  gw = await startTestGateway({
    rules: { dir: rulesDir },
    mqtt: { internalClients: [{ username: 'watcher', passwordHash: await hashSecret('watch'), subscribe: ['stockyard/v1/test/flows/#'] }] },
    nodeRed: {
      enabled: true,
      flowsDir: join(REPO_ROOT, 'flows'),
      env: {
        ALERT_WEBHOOK_URL: `${at}/alerts`,
        ALERT_MIN_SEVERITY: 'warning',
        ESCALATION_WEBHOOK_URL: `${at}/escalation`,
        ESCALATE_AFTER_S: String(ESCALATE_AFTER_S),
        SHIFT_REPORT_URL: `${at}/shift`,
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtpPort),
        SMTP_FROM: 'stockyard@site.test',
        ALERT_EMAIL_TO: 'ops@site.test',
      },
    },
  })
  gw.broker.aedes.on('subscribe', (subs, client) => {
    const id = identityOf(client)
    if (id?.type === 'internal' && id.username === MQTT_USERNAME) subscribed.push(...subs.map((s) => s.topic))
  })
  admin = gw.token('admin')
  watcher = await connectMqtt(gw.ports.mqtt, { username: 'watcher', password: 'watch', clientId: 'watcher-1' })
  watcher.on('message', (_t, payload) => deviations.push(JSON.parse(payload.toString()) as Body))
  await watcher.subscribeAsync('stockyard/v1/test/flows/#', { qos: 1 })
  for (const id of ['env-1', 'env-2', 'env-3']) env[id] = await connectDevice(gw.ports.mqtt, await gw.addDevice(id))
  scanner = await connectDevice(gw.ports.mqtt, await gw.addDevice('scan-1', { kind: 'scanner' }))
  await within(gw.nodeRed!.ready(), 30_000, 'Node-RED started')
  // The flows are listening once Node-RED's client has subscribed to the alerts and the scans.
  expect(await waitFor(() => subscribed.some((s) => s.includes('/alerts/')) && subscribed.some((s) => s.endsWith('/scan')), 15_000)).toBe(true)
}, 60_000)

afterAll(async () => {
  for (const c of [...Object.values(env), scanner, watcher]) await c?.endAsync()
  await gw?.dispose()
  receiver?.close()
  await new Promise<void>((r) => (smtp ? smtp.close(r) : r()))
})

/** A reading `afterMs` after now (event time: a later point slides the 1 s window past the earlier ones). */
const reading = (device: string, metrics: Record<string, number>, afterMs = 0): Promise<void> =>
  publishAcked(env[device]!, topicOf('test', device, 'reading'), JSON.stringify({ v: 1, ts: Date.now() + afterMs, metrics }))

async function firingAlertOf(device: string, rule = 'cold-room-hot'): Promise<{ id: string }> {
  let found: { id: string } | undefined
  await waitFor(async () => {
    const { alerts } = await getJson<{ alerts: Array<{ id: string; rule: string; state: string; labels: Record<string, string> }> }>(
      gw,
      '/api/v1/alerts',
      admin,
    )
    found = alerts.find((a) => a.rule === rule && a.state === 'firing' && a.labels.device === device)
    return found !== undefined
  }, 5000)
  if (!found) throw new Error(`no firing ${rule} alert for ${device}`)
  return found
}

const of = (path: string, pred: (b: Body) => boolean = () => true): Body[] => (received[path] ?? []).filter(pred)

describe('alert routing', () => {
  it('sends a firing critical alert to the webhook, formatted, and its resolution; an info alert is filtered out', async () => {
    await reading('env-1', { humidity_pct: 95 })
    await reading('env-1', { temperature_c: 9.5 })
    expect(await waitFor(() => of('/alerts', (b) => b.rule === 'cold-room-hot' && b.event === 'firing').length === 1, 5000)).toBe(true)
    const n = of('/alerts', (b) => b.rule === 'cold-room-hot')[0]!
    expect(n).toMatchObject({ site: 'test', severity: 'critical', state: 'firing', event: 'firing', value: 9.5, threshold: 8 })
    expect(n.labels).toMatchObject({ device: 'env-1' })
    expect(String(n.text)).toMatch(/CRITICAL/)
    expect(String(n.text)).toContain('cold-room-hot')
    expect(String(n.text)).toContain('env-1 is at 9.5 °C')
    await reading('env-1', { temperature_c: 4 }, 2000)
    expect(await waitFor(() => of('/alerts', (b) => b.rule === 'cold-room-hot' && b.event === 'resolved').length === 1, 5000)).toBe(true)
    // The info alert fired before the critical one, on the same connection; it was never sent.
    expect(of('/alerts', (b) => b.rule === 'humid')).toEqual([])
    // The same two notifications by e-mail.
    const mailed = (state: string): Array<{ to: string[]; raw: string }> =>
      mails.filter((m) => m.raw.includes('cold-room-hot') && m.raw.includes(`State:     ${state}`))
    expect(await waitFor(() => mailed('firing').length === 1 && mailed('resolved').length === 1, 10_000)).toBe(true)
    const mail = mailed('firing')[0]!
    expect(mail.to).toEqual(['ops@site.test'])
    // The subject holds ° (so it is MIME-encoded); the body's first line is the same text, quoted-printable.
    expect(mail.raw).toMatch(/^Subject: /m)
    expect(mail.raw.replace(/=\r\n/g, '')).toContain('[CRITICAL] cold-room-hot firing at test')
    expect(mail.raw).toMatch(/^From: stockyard@site\.test/m)
    expect(mails.some((m) => m.raw.includes('humid'))).toBe(false)
  })
})

describe('alerts while Node-RED restarts', () => {
  it('are queued by the broker for its persistent session and routed once it is back', async () => {
    const sentFor = (id: string, event: string): number => of('/alerts', (b) => b.alertId === id && b.event === event).length
    await gw.nodeRed!.kill()
    await reading('env-1', { temperature_c: 11 }, 3000)
    const alert = await firingAlertOf('env-1')
    const firing = sentFor(alert.id, 'firing')
    const resolved = sentFor(alert.id, 'resolved')
    await within(gw.nodeRed!.ready(), 30_000, 'Node-RED restarted')
    expect(await waitFor(() => sentFor(alert.id, 'firing') === firing + 1, 10_000)).toBe(true)
    await reading('env-1', { temperature_c: 4 }, 5000)
    expect(await waitFor(() => sentFor(alert.id, 'resolved') === resolved + 1, 10_000)).toBe(true)
    // Sent once: the retained copy the broker sends again at the resubscribe is not sent twice.
    expect(sentFor(alert.id, 'firing')).toBe(firing + 1)
  }, 60_000)
})

describe('escalation', () => {
  it('escalates a critical alert not acknowledged in time, and not one that was acknowledged', async () => {
    await reading('env-2', { temperature_c: 12 })
    await reading('env-3', { temperature_c: 12 })
    const acked = await firingAlertOf('env-2')
    const ignored = await firingAlertOf('env-3')
    const ack = await httpCall(gw, 'POST', `/api/v1/alerts/${acked.id}/ack`, admin, {})
    expect(ack.status).toBe(200)
    const escalated = (id: string): Body[] => of('/escalation', (b) => b.alertId === id)
    expect(await waitFor(() => escalated(ignored.id).length === 1, (ESCALATE_AFTER_S + 5) * 1000)).toBe(true)
    const e = escalated(ignored.id)[0]!
    expect(e).toMatchObject({ escalated: true, rule: 'cold-room-hot', severity: 'critical' })
    expect(String(e.text)).toMatch(/^ESCALATED/)
    // The acknowledged one fired at the same time; give it another second past its delay.
    await new Promise((r) => setTimeout(r, 1000))
    expect(escalated(acked.id)).toEqual([])
  }, 30_000)
})

describe('shift report', () => {
  it('posts a summary of movements, alerts and shipments when its inject fires', async () => {
    await publishAcked(
      scanner,
      topicOf('test', 'scan-1', 'scan'),
      JSON.stringify({ v: 1, ts: Date.now(), event: 'receive', sku: 'SKU-9', qty: 4, location: 'DOCK-1' }),
    )
    const res = await httpCall(gw, 'POST', '/red/inject/shift-report-inject', admin, {})
    expect(res.status).toBe(200)
    expect(await waitFor(() => of('/shift').length === 1, 10_000)).toBe(true)
    const r = of('/shift')[0]!
    expect(r).toMatchObject({ site: 'test' })
    expect(Date.parse(String(r.to)) - Date.parse(String(r.from))).toBe(8 * 3_600_000)
    expect(JSON.stringify(r.alerts)).toContain('cold-room-hot')
    expect(JSON.stringify(r.movements)).toContain('receive')
    expect(typeof r.text).toBe('string')
  })
})

describe('WMS bridge', () => {
  const hooks = (method: string, path: string, json?: unknown): ReturnType<typeof httpCall> => httpCall(gw, method, `/hooks/wms/receipts${path}`, admin, json)

  it('refuses a malformed receipt with a clear error', async () => {
    const bad = await hooks('POST', '', { ref: 'PO-X', lines: [{ sku: 'SKU-1', qty: -3 }] })
    expect(bad.status).toBe(400)
    expect(bad.text).toMatch(/qty/)
  })

  it('turns a receipt into an expected receipt and reports the deviations of what was scanned in', async () => {
    const created = await hooks('POST', '', {
      ref: 'PO-1',
      supplier: 'ACME',
      lines: [
        { sku: 'SKU-1', qty: 10 },
        { sku: 'SKU-2', qty: 5 },
      ],
    })
    expect(created.status).toBe(202)
    const scan = (sku: string, qty: number): Promise<void> =>
      publishAcked(
        scanner,
        topicOf('test', 'scan-1', 'scan'),
        JSON.stringify({ v: 1, ts: Date.now(), event: 'receive', sku, qty, location: 'DOCK-1', ref: 'PO-1' }),
      )
    await scan('SKU-1', 10)
    await scan('SKU-2', 3)
    await scan('SKU-3', 1)
    // Scans arrive at the flow over MQTT; wait until it has counted all three.
    expect(
      await waitFor(async () => {
        const r = await hooks('GET', '/PO-1')
        return r.status === 200 && JSON.stringify(r.body).includes('SKU-3')
      }, 5000),
    ).toBe(true)
    const closed = await hooks('POST', '/PO-1/close', {})
    expect(closed.status).toBe(200)
    const kinds = ((closed.body as { deviations: Array<{ sku: string; kind: string; expected: number; received: number }> }).deviations ?? []).map(
      (d) => `${d.sku}:${d.kind}:${d.expected}:${d.received}`,
    )
    expect(kinds.sort()).toEqual(['SKU-2:short:5:3', 'SKU-3:unexpected:0:1'])
    expect(await waitFor(() => deviations.some((d) => d.ref === 'PO-1'), 5000)).toBe(true)
    expect(await waitFor(() => of('/alerts', (b) => b.ref === 'PO-1').length === 1, 5000)).toBe(true)
    expect(String(of('/alerts', (b) => b.ref === 'PO-1')[0]!.text)).toContain('PO-1')
  })
})
