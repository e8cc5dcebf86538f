/**
 * The time-window reads a shift report needs, through MQTT and HTTP: `GET /api/v1/movements` counts
 * and sums the scans whose event time falls in the window (a late scan in the window of its time, none
 * outside it), by event and by SKU; `GET /api/v1/alerts/history` lists the alert changes made in the
 * window with each alert's severity and labels. Bad windows are refused with 400.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, httpGet, publishAcked, waitFor } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

const PACK = `
version: 1
rules:
  - id: hot
    condition: { kind: threshold, metric: temperature_c, window: { type: sliding, size: 1s }, agg: max, op: '>', value: 8 }
    severity: warning
    labels: { team: cold-chain }
`

let gw: TestGateway
let viewer: string
let scanner: MqttClient
let env: MqttClient
const t0 = Date.now() - 3_600_000

beforeAll(async () => {
  const rules = join(tempDir(), 'rules')
  mkdirSync(rules)
  writeFileSync(join(rules, 'site.yaml'), PACK)
  gw = await startTestGateway({ rules: { dir: rules } })
  viewer = gw.token('viewer')
  scanner = await connectDevice(gw.ports.mqtt, await gw.addDevice('scan-1', { kind: 'scanner', zone: 'dock' }))
  env = await connectDevice(gw.ports.mqtt, await gw.addDevice('env-1'))
})

afterAll(async () => {
  await scanner?.endAsync()
  await env?.endAsync()
  await gw?.dispose()
})

const scan = (ts: number, event: string, sku: string, qty: number): Promise<void> =>
  publishAcked(scanner, topicOf('test', 'scan-1', 'scan'), JSON.stringify({ v: 1, ts, event, sku, qty, location: 'A-1' }))

describe('GET /api/v1/movements', () => {
  it('sums the scans of the window by event and by SKU, a late one in the window of its time', async () => {
    await scan(t0 - 60_000, 'receive', 'SKU-1', 100) // before the window
    await scan(t0 + 1000, 'receive', 'SKU-1', 40)
    await scan(t0 + 2000, 'pick', 'SKU-1', 3)
    await scan(t0 + 3000, 'pick', 'SKU-2', 5)
    await scan(t0 + 4000, 'pick', 'SKU-2', 1)
    await scan(t0 + 600_000, 'ship', 'SKU-2', 6) // after the window
    await scan(t0 + 5000, 'adjust', 'SKU-1', -2) // arrives last, belongs in the window
    const from = new Date(t0).toISOString()
    const to = new Date(t0 + 60_000).toISOString()
    const m = await getJson<{ byEvent: Record<string, unknown>; bySku: Array<Record<string, unknown>>; skus: number }>(
      gw,
      `/api/v1/movements?from=${from}&to=${to}`,
      viewer,
    )
    expect(m.byEvent).toEqual({ receive: { scans: 1, units: 40 }, pick: { scans: 3, units: 9 }, adjust: { scans: 1, units: -2 } })
    expect(m.skus).toBe(2)
    expect(m.bySku).toEqual([
      { sku: 'SKU-1', receive: { scans: 1, units: 40 }, pick: { scans: 1, units: 3 }, adjust: { scans: 1, units: -2 } },
      { sku: 'SKU-2', pick: { scans: 2, units: 6 } },
    ])
    const one = await getJson<{ byEvent: Record<string, unknown> }>(gw, `/api/v1/movements?from=${from}&to=${to}&sku=SKU-2&limit=1`, viewer)
    expect(one.byEvent).toEqual({ pick: { scans: 2, units: 6 } })
    const none = await getJson<{ byEvent: Record<string, unknown> }>(gw, `/api/v1/movements?from=${from}&to=${to}&zone=elsewhere`, viewer)
    expect(none.byEvent).toEqual({})
  })

  it('refuses a missing from, an empty or reversed window, and one over 31 days', async () => {
    expect((await httpGet(gw, '/api/v1/movements', viewer)).text).toMatch(/from: required/)
    expect((await httpGet(gw, `/api/v1/movements?from=${t0}&to=${t0}`, viewer)).status).toBe(400)
    const long = await httpGet(gw, `/api/v1/movements?from=${t0 - 40 * 86_400_000}&to=${t0}`, viewer)
    expect(long.status).toBe(400)
    expect(long.text).toMatch(/31 days/)
  })
})

describe('GET /api/v1/alerts/history', () => {
  it('lists the changes made in the window, with severity and labels', async () => {
    const before = Date.now()
    await publishAcked(env, topicOf('test', 'env-1', 'reading'), JSON.stringify({ v: 1, ts: Date.now(), metrics: { temperature_c: 12 } }))
    await publishAcked(env, topicOf('test', 'env-1', 'reading'), JSON.stringify({ v: 1, ts: Date.now() + 2000, metrics: { temperature_c: 4 } }))
    type H = { changes: Array<{ rule: string; event: string; severity: string; labels: Record<string, string> }>; truncated: boolean }
    let h: H | undefined
    expect(
      await waitFor(async () => {
        h = await getJson<H>(gw, `/api/v1/alerts/history?from=${before}`, viewer)
        return h.changes.some((c) => c.event === 'resolved')
      }, 5000),
    ).toBe(true)
    // Pending, then firing at once (no `for`), then resolved.
    expect(h!.changes.map((c) => c.event)).toEqual(['pending', 'firing', 'resolved'])
    expect(h!.changes[0]).toMatchObject({ rule: 'hot', severity: 'warning', labels: { team: 'cold-chain', device: 'env-1' } })
    expect(h!.truncated).toBe(false)
    const limited = await getJson<H>(gw, `/api/v1/alerts/history?from=${before}&limit=1`, viewer)
    expect(limited.changes).toHaveLength(1)
    expect(limited.truncated).toBe(true)
    expect((await getJson<H>(gw, `/api/v1/alerts/history?from=${before}&severity=critical`, viewer)).changes).toEqual([])
    expect((await getJson<H>(gw, `/api/v1/alerts/history?from=${before - 60_000}&to=${before}`, viewer)).changes).toEqual([])
    expect((await httpGet(gw, `/api/v1/alerts/history?from=${before}&to=${before - 1}`, viewer)).status).toBe(400)
  })
})
