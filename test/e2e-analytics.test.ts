/**
 * Analytics end to end, through real MQTT, the real analytics worker and the rule engine: four weeks
 * of a SKU's simulated picks (the warehouse simulator's demand process) are published as a scanner
 * that buffered them, a re-fit forecasts the SKU, and live picks then run it down. The forecast
 * signal "stock-out within 48 h" must fire while stock is still on the shelf, before the real
 * stock-out. Also the analytics API (forecast, policy, segments, stats, status) and its access rules.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dailyDemand, demandSpec } from '../simulators/demand.ts'
import { getJson, httpGet, metricSample, publishAll, publishAcked, waitFor } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

const DAY = 86_400_000
const HISTORY_DAYS = 28
const SKU = 'SKU-FC1'
const PACK = `
version: 1
rules:
  - id: stockout-48h
    condition: { kind: forecast, signal: stockout_within, horizon: 48h, sku: '*', op: '>=', value: 0.5, clear: 0.2 }
    severity: critical
    annotations: { summary: '{{ labels.sku }}: {{ value }} probability of a stock-out within 48 h' }
    notify: [bus]
`
const SKUS = `
version: 1
skus:
  - { sku: ${SKU}, reorder_point: 60, safety_stock: 20, lead_time: 2d, unit_cost: 4.5 }
  - { sku: SKU-FC2, reorder_point: 10, safety_stock: 2, lead_time: 3d }
`

interface AlertJson {
  state: string
  labels: Record<string, string>
  value: number
}

let gw: TestGateway
let scanner: MqttClient
let tracker: MqttClient
let seq = 0
const shipment = (body: Record<string, unknown>): { topic: string; payload: string } => ({
  topic: topicOf('test', 'tracker-1', 'shipment'),
  payload: JSON.stringify({ v: 1, seq: ++seq, ...body }),
})
const scan = (body: Record<string, unknown>): { topic: string; payload: string } => ({
  topic: topicOf('test', 'scanner-1', 'scan'),
  payload: JSON.stringify({ v: 1, seq: ++seq, location: 'A-01', ...body }),
})

beforeAll(async () => {
  const rules = tempDir('stockyard-analytics-rules-')
  writeFileSync(join(rules, 'forecast.yaml'), PACK)
  writeFileSync(join(rules, 'skus.yaml'), SKUS)
  gw = await startTestGateway({
    rules: { dir: rules, watch: false },
    // The scanner's buffered history is up to four weeks old.
    ingest: { maxPastAgeMs: (HISTORY_DAYS + 2) * DAY },
    analytics: { refitAt: '03:00', historyDays: 60, horizonDays: 14, refreshMs: 1000 },
  })
  scanner = await connectDevice(gw.ports.mqtt, await gw.addDevice('scanner-1', { kind: 'scanner' }))
  tracker = await connectDevice(gw.ports.mqtt, await gw.addDevice('tracker-1', { kind: 'tracker' }))
})

afterAll(async () => {
  scanner?.end(true)
  tracker?.end(true)
  await gw?.dispose()
})

/** Alerts of the stock-out rule for the SKU. */
async function stockoutAlert(): Promise<AlertJson | undefined> {
  const { alerts } = await getJson<{ alerts: AlertJson[] }>(gw, '/api/v1/alerts?rule=stockout-48h', gw.token('viewer'))
  return alerts.find((a) => a.labels.sku === SKU && a.state === 'firing')
}

async function onHand(): Promise<number> {
  return (await getJson<{ stock: { total: number } }>(gw, `/api/v1/stock/${SKU}`, gw.token('viewer'))).stock.total
}

describe('analytics end to end', () => {
  it('forecasts a SKU from four weeks of picks and fires "stock-out within 48 h" before the real stock-out', async () => {
    const now = Date.now()
    const today = Math.floor(now / DAY) * DAY
    const start = today - HISTORY_DAYS * DAY
    // ~20 units a day with the simulator's weekly shape; a slow SKU beside it.
    const fast = dailyDemand(demandSpec({ perDay: 20, lineMean: 2 }), HISTORY_DAYS, { seed: 11, start })
    const slow = dailyDemand(demandSpec({ perDay: 2, pattern: 'intermittent', dayChance: 0.3 }), HISTORY_DAYS, { seed: 12, start })
    const total = fast.units.reduce((a, b) => a + b, 0)
    const messages = [
      scan({ ts: start + 1000, event: 'receive', sku: SKU, qty: total + 150 }),
      scan({ ts: start + 1000, event: 'receive', sku: 'SKU-FC2', qty: 500 }),
    ]
    fast.units.forEach((units, d) => {
      if (units > 0) messages.push(scan({ ts: start + d * DAY + 12 * 3_600_000, event: 'pick', sku: SKU, qty: units }))
    })
    slow.units.forEach((units, d) => {
      if (units > 0) messages.push(scan({ ts: start + d * DAY + 13 * 3_600_000, event: 'pick', sku: 'SKU-FC2', qty: units }))
    })
    await publishAll(scanner, messages)
    // Acknowledged means stored; the stock book folds the batch right after.
    expect(await waitFor(async () => (await onHand()) === 150, 5000)).toBe(true)

    const refit = await fetch(gw.url('/api/v1/analytics/refit?wait=true'), { method: 'POST', headers: { authorization: `Bearer ${gw.token('admin')}` } })
    expect(refit.status).toBe(200)
    const run = ((await refit.json()) as { run: { skus: number; failed: number } }).run
    expect(run).toMatchObject({ skus: 2, failed: 0 })

    const f = await getJson<{
      method: string
      history: { values: number[] }
      forecast: { mean: number[]; lower: Record<string, number[]>; upper: Record<string, number[]> }
      now: { onHand: number; daysOfCover: number; stockoutWithin48h: number }
    }>(gw, `/api/v1/forecast/${SKU}?history=${HISTORY_DAYS}`, gw.token('viewer'))
    // The history served is what was picked, day by day.
    expect(f.history.values).toEqual(fast.units)
    expect(f.forecast.mean).toHaveLength(14)
    const weekly = f.forecast.mean.slice(0, 7).reduce((a, b) => a + b, 0)
    // A week of forecast is a week of the process's demand (140 units), within a generous band.
    expect(weekly).toBeGreaterThan(140 * 0.6)
    expect(weekly).toBeLessThan(140 * 1.4)
    for (const level of ['80', '95']) {
      f.forecast.mean.forEach((m, i) => {
        expect(f.forecast.lower[level]![i]).toBeLessThanOrEqual(m)
        expect(f.forecast.upper[level]![i]).toBeGreaterThanOrEqual(m)
      })
    }
    expect(f.now.onHand).toBe(150)
    expect(f.now.daysOfCover).toBeGreaterThan(3)
    expect(await stockoutAlert()).toBeUndefined()

    // Live picks of 10 run the shelf down; the alert must fire while stock remains. Stock and alerts
    // commit in one transaction, so once /stock shows a pick the alert state after it is readable too.
    let firedAt: number | undefined
    for (let left = 150; left > 0;) {
      const pick = scan({ ts: Date.now(), event: 'pick', sku: SKU, qty: 10 })
      await publishAcked(scanner, pick.topic, pick.payload)
      left -= 10
      expect(await waitFor(async () => (await onHand()) === left, 5000)).toBe(true)
      if ((await stockoutAlert()) !== undefined) {
        firedAt = left
        break
      }
    }
    console.log(`forecast ${f.method}: ${weekly.toFixed(1)} units in the first week (process: 140); "stock-out within 48 h" fired with ${firedAt} on hand`)
    expect(firedAt, 'the forecast alert fired before the stock ran out').toBeDefined()
    expect(firedAt!).toBeGreaterThan(0)
    // About two days of demand (~40 units) is left when a 48 h stock-out becomes more likely than not.
    expect(firedAt!).toBeLessThanOrEqual(80)
    expect(firedAt!).toBeGreaterThanOrEqual(10)
  })

  it('serves the suggested policy, segments, statistics and run status', async () => {
    const token = gw.token('viewer')
    const policy = await getJson<{
      mode: string
      skus: Array<{ sku: string; suggested: { reorder_point: number; safety_stock: number; eoq: number | null } }>
    }>(gw, '/api/v1/analytics/policy', token)
    expect(policy.mode).toBe('suggest')
    const fc1 = policy.skus.find((p) => p.sku === SKU)!
    // Lead time 2 days at ~20 a day: a reorder point around 40 plus safety stock.
    expect(fc1.suggested.reorder_point).toBeGreaterThan(25)
    expect(fc1.suggested.reorder_point).toBeLessThan(120)
    expect(fc1.suggested.safety_stock).toBeLessThanOrEqual(fc1.suggested.reorder_point)
    expect(fc1.suggested.eoq).toBeGreaterThan(0)

    const seg = await getJson<{ skus: Array<{ sku: string; abc: string; xyz: string; pattern: string }> }>(gw, '/api/v1/analytics/segments', token)
    const bySku = new Map(seg.skus.map((s) => [s.sku, s]))
    expect(bySku.get(SKU)?.abc).toBe('A')
    expect(bySku.get('SKU-FC2')?.pattern).toMatch(/intermittent|lumpy/)

    const stats = await getJson<{ series: Array<{ labels: { sku: string }; stats: { n: number; mean: number; zeroShare: number } }> }>(
      gw,
      `/api/v1/analytics/stats?metric=demand&sku=SKU-FC2&from=${Date.now() - HISTORY_DAYS * DAY}`,
      token,
    )
    expect(stats.series[0]!.stats.n).toBe(HISTORY_DAYS)
    expect(stats.series[0]!.stats.zeroShare).toBeGreaterThan(0.3)

    const status = await getJson<{ running: boolean; lastRun: { skus: number } | null; nextRunAt: number }>(gw, '/api/v1/analytics/status', token)
    expect(status.lastRun?.skus).toBe(2)
    expect(new Date(status.nextRunAt).toISOString()).toMatch(/T03:00:00/)
    const metrics = (await httpGet(gw, '/metrics', token)).text
    expect(metricSample(metrics, 'stockyard_analytics_skus')).toBe(2)
    expect(metricSample(metrics, 'stockyard_analytics_runs_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1)
  })

  it('learns dispatch lead time from past shipments and raises stockyard_dispatch_at_risk for a large open one until it departs', async () => {
    const now = Date.now()
    const messages: Array<{ topic: string; payload: string }> = []
    // Twelve departed shipments: lead time 20 min + 6 min per pick line, released at varied hours.
    for (let i = 0; i < 12; i++) {
      const id = `SH-PAST-${i}`
      const lines = 5 + 3 * i
      const released = now - (10 - (i % 9)) * DAY + ((i * 5) % 24) * 3_600_000 - 6 * 3_600_000
      messages.push(shipment({ ts: released, shipmentId: id, status: 'released' }))
      for (let l = 0; l < lines; l++) messages.push(scan({ ts: released + 60_000, event: 'pick', sku: 'SKU-FC2', qty: 1, ref: id }))
      messages.push(shipment({ ts: released + (20 + 6 * lines) * 60_000, shipmentId: id, status: 'departed' }))
    }
    // Open: 45 lines predicts ~290 min, past the 4 h deadline; 5 lines predicts ~50 min.
    const released = now - 10 * 60_000
    messages.push(shipment({ ts: released, shipmentId: 'SH-BIG', status: 'released' }), shipment({ ts: released, shipmentId: 'SH-SMALL', status: 'released' }))
    for (let l = 0; l < 45; l++) messages.push(scan({ ts: released + 1000, event: 'pick', sku: 'SKU-FC2', qty: 1, ref: 'SH-BIG' }))
    for (let l = 0; l < 5; l++) messages.push(scan({ ts: released + 1000, event: 'pick', sku: 'SKU-FC2', qty: 1, ref: 'SH-SMALL' }))
    await publishAll(
      scanner,
      messages.filter((m) => m.topic.endsWith('/scan')),
    )
    await publishAll(
      tracker,
      messages.filter((m) => m.topic.endsWith('/shipment')),
    )

    const refit = await fetch(gw.url('/api/v1/analytics/refit?wait=true'), { method: 'POST', headers: { authorization: `Bearer ${gw.token('admin')}` } })
    expect(refit.status).toBe(200)
    const token = gw.token('viewer')
    const outlook = async () =>
      getJson<{
        model: { status: string; coefficients: { volume: number }; r2: number }
        shipments: Array<{ shipment: string; atRisk: boolean | null; lines: number }>
      }>(gw, '/api/v1/analytics/shipments', token)
    expect(await waitFor(async () => (await outlook()).shipments.some((s) => s.shipment === 'SH-BIG'), 5000)).toBe(true)
    const o = await outlook()
    expect(o.model.status).toBe('ok')
    // 6 minutes a line, in ms.
    expect(o.model.coefficients.volume / 60_000).toBeCloseTo(6, 1)
    expect(o.shipments.find((s) => s.shipment === 'SH-BIG')).toMatchObject({ atRisk: true, lines: 45 })
    expect(o.shipments.find((s) => s.shipment === 'SH-SMALL')).toMatchObject({ atRisk: false, lines: 5 })

    const dispatchAlerts = async () =>
      (await getJson<{ alerts: AlertJson[] }>(gw, '/api/v1/alerts?rule=stockyard_dispatch_at_risk', token)).alerts.filter((a) => a.state === 'firing')
    expect(await waitFor(async () => (await dispatchAlerts()).length === 1, 5000)).toBe(true)
    expect((await dispatchAlerts())[0]!.labels.shipment).toBe('SH-BIG')

    const departed = shipment({ ts: Date.now(), shipmentId: 'SH-BIG', status: 'departed' })
    await publishAcked(tracker, departed.topic, departed.payload)
    expect(await waitFor(async () => (await dispatchAlerts()).length === 0, 5000)).toBe(true)
  })

  it('restarts a killed analytics worker; a re-fit meanwhile is refused with 503, one after the restart runs', async () => {
    const admin = { method: 'POST', headers: { authorization: `Bearer ${gw.token('admin')}` } }
    await gw.analytics!.kill()
    const refused = await fetch(gw.url('/api/v1/analytics/refit'), admin)
    expect(refused.status).toBe(503)
    expect(await refused.text()).toMatch(/analytics worker is not running/)
    // Restarted 5 s after it died; its results stayed in the analytics database meanwhile.
    expect((await httpGet(gw, `/api/v1/forecast/${SKU}`, gw.token('viewer'))).status).toBe(200)
    let res: Response | undefined
    expect(
      await waitFor(
        async () => {
          res = await fetch(gw.url('/api/v1/analytics/refit?wait=true'), admin)
          return res.status === 200
        },
        15_000,
        500,
      ),
    ).toBe(true)
    expect(((await res!.json()) as { run: { skus: number } }).run.skus).toBe(2)
  })

  it('refuses a re-fit to a viewer and answers 404 with a reason for a SKU without a forecast', async () => {
    const res = await fetch(gw.url('/api/v1/analytics/refit'), { method: 'POST', headers: { authorization: `Bearer ${gw.token('viewer')}` } })
    expect(res.status).toBe(403)
    const missing = await httpGet(gw, '/api/v1/forecast/SKU-NONE', gw.token('viewer'))
    expect(missing.status).toBe(404)
    expect(missing.text).toMatch(/no forecast for SKU-NONE/)
  })
})

describe('analytics.policy: apply', () => {
  it('writes the suggested reorder point and safety stock to the SKU master after a run', async () => {
    const rules = tempDir('stockyard-analytics-apply-')
    writeFileSync(join(rules, 'skus.yaml'), `version: 1\nskus:\n  - { sku: SKU-AP, reorder_point: 5, safety_stock: 1, lead_time: 3d }\n`)
    const g = await startTestGateway({ rules: { dir: rules, watch: false }, ingest: { maxPastAgeMs: 30 * DAY }, analytics: { policy: 'apply' } })
    const dev = await connectDevice(g.ports.mqtt, await g.addDevice('scanner-2', { kind: 'scanner' }))
    try {
      const start = Math.floor(Date.now() / DAY) * DAY - 21 * DAY
      const { units } = dailyDemand(demandSpec({ perDay: 30 }), 21, { seed: 5, start })
      let n = 0
      const topic = topicOf('test', 'scanner-2', 'scan')
      const messages = [{ topic, payload: JSON.stringify({ v: 1, seq: ++n, ts: start, event: 'receive', sku: 'SKU-AP', qty: 5000, location: 'B-1' }) }]
      units.forEach((qty, d) => {
        if (qty > 0)
          messages.push({
            topic,
            payload: JSON.stringify({ v: 1, seq: ++n, ts: start + d * DAY + 43_200_000, event: 'pick', sku: 'SKU-AP', qty, location: 'B-1' }),
          })
      })
      await publishAll(dev, messages)
      const res = await fetch(g.url('/api/v1/analytics/refit?wait=true'), { method: 'POST', headers: { authorization: `Bearer ${g.token('admin')}` } })
      expect(res.status).toBe(200)
      const policy = await getJson<{
        mode: string
        skus: Array<{ sku: string; suggested: { reorder_point: number; safety_stock: number }; applied: boolean }>
      }>(g, '/api/v1/analytics/policy?sku=SKU-AP', g.token('viewer'))
      expect(policy.mode).toBe('apply')
      const suggested = policy.skus[0]!.suggested
      // Three days of lead time at ~30 a day.
      expect(suggested.reorder_point).toBeGreaterThan(60)
      expect(policy.skus[0]!.applied).toBe(true)
      const master = async () =>
        (await getJson<{ skus: Array<{ sku: string; reorder_point: number; safety_stock: number; source: string }> }>(g, '/api/v1/skus', g.token('viewer')))
          .skus[0]!
      expect(await waitFor(async () => (await master()).reorder_point === suggested.reorder_point, 5000)).toBe(true)
      expect(await master()).toMatchObject({ sku: 'SKU-AP', safety_stock: suggested.safety_stock, source: 'api' })
    } finally {
      dev.end(true)
      await g.dispose()
    }
  })
})
