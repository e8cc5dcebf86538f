/**
 * Ingest end to end, through real sockets: mqtt.js over TCP and WebSocket, mosquitto_pub as a child
 * process, the gateway's SQLite file in a temp dir, and the HTTP API read with fetch. The promise
 * under test: every message a device sees acknowledged is validated and durably stored, and the
 * series API (raw and 1 m rollups) returns exactly what was stored.
 */
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeviceCredentials } from '../gateway/store/types.ts'
import { connectDevice, connectMqtt, startTestGateway, topicOf, type TestGateway } from './helpers/gateway.ts'
import { getJson, Inbox, mosquittoPubLines, publishAcked, publishAll } from './helpers/e2e.ts'

const MIN = 60_000
const READINGS = 10_000
const BURST = 600
const STEP_MS = 100 // one reading every 100 ms of event time: 10,000 readings span ~17 minutes

interface SeriesResponse {
  source: string
  series: Array<{ labels: { metric: string; device: string }; points: Array<[number, number]> }>
}

let gw: TestGateway
let viewer: string
/** Event time of the first reading: a minute boundary 30 minutes ago, inside the accepted window. */
let t0: number

// Values are multiples of 1/8, so every sum is exact in binary floating point whatever the order.
const temperature = (i: number): number => ((i * 7) % 200) / 8 - 5
const humidity = (i: number): number => (i % 50) + 30

function readingPayload(i: number, ts = t0 + i * STEP_MS): string {
  return JSON.stringify({ v: 1, ts, seq: i, metrics: { temperature_c: temperature(i), humidity_pct: humidity(i) } })
}

function seriesPath(metric: string, params: Record<string, string | number> = {}): string {
  const q = new URLSearchParams({ metric, from: String(t0), to: String(t0 + 30 * MIN) })
  for (const [k, v] of Object.entries(params)) q.set(k, String(v))
  return `/api/v1/series?${q}`
}

/** Per-minute count/sum/min/max computed from raw points. */
function bucketsOf(points: Array<[number, number]>): Map<number, { count: number; sum: number; min: number; max: number }> {
  const out = new Map<number, { count: number; sum: number; min: number; max: number }>()
  for (const [ts, v] of points) {
    const b = Math.floor(ts / MIN) * MIN
    const cur = out.get(b)
    if (!cur) out.set(b, { count: 1, sum: v, min: v, max: v })
    else {
      cur.count++
      cur.sum += v
      cur.min = Math.min(cur.min, v)
      cur.max = Math.max(cur.max, v)
    }
  }
  return out
}

beforeAll(async () => {
  gw = await startTestGateway()
  viewer = gw.token('viewer')
  t0 = Math.floor(Date.now() / MIN) * MIN - 30 * MIN
})

afterAll(async () => {
  await gw?.dispose()
})

describe('a device publishing 10,000 QoS 1 readings over TCP (mqtt.js)', () => {
  let device: MqttClient
  let creds: DeviceCredentials
  let rejections: Inbox
  let elapsedMs = 0

  beforeAll(async () => {
    creds = await gw.addDevice('env-01')
    device = await connectDevice(gw.ports.mqtt, creds)
    rejections = await Inbox.open(device, topicOf('test', creds.id, 'errors'))
    const topic = topicOf('test', creds.id, 'reading')
    const messages = Array.from({ length: READINGS }, (_, i) => ({ topic, payload: readingPayload(i) }))
    const started = Date.now()
    const acked = await publishAll(device, messages, 500)
    elapsedMs = Date.now() - started
    expect(acked).toBe(READINGS)
  })

  afterAll(async () => {
    await device?.endAsync()
  })

  it('has every acknowledged reading stored by the time its PUBACK arrives: 2 points each, none refused', () => {
    // The PUBACK is sent after the group commit, so no waiting is needed here.
    expect(gw.store.series.countPoints({ device: creds.id, metric: 'temperature_c' })).toBe(READINGS)
    expect(gw.store.series.countPoints({ device: creds.id, metric: 'humidity_pct' })).toBe(READINGS)
    expect(rejections.messages).toEqual([])
    expect(gw.store.deadLetters.count()).toBe(0)
    console.info(`[e2e-ingest] ${READINGS} QoS 1 readings acked in ${elapsedMs} ms (${Math.round((READINGS / elapsedMs) * 1000)} msg/s)`)
  })

  it('returns exactly the stored points as raw series, with the values that were sent', async () => {
    for (const [metric, valueOf] of [
      ['temperature_c', temperature],
      ['humidity_pct', humidity],
    ] as const) {
      const res = await getJson<SeriesResponse>(gw, seriesPath(metric, { device: creds.id }), viewer)
      expect(res.source).toBe('raw')
      expect(res.series).toHaveLength(1)
      const points = res.series[0]!.points
      expect(points).toHaveLength(gw.store.series.countPoints({ device: creds.id, metric }))
      expect(points).toEqual(Array.from({ length: READINGS }, (_, i) => [t0 + i * STEP_MS, valueOf(i)]))
    }
  })

  it('answers step=1m from the minute rollups, and count, sum, min and max agree with the raw points', async () => {
    for (const metric of ['temperature_c', 'humidity_pct']) {
      const raw = await getJson<SeriesResponse>(gw, seriesPath(metric, { device: creds.id }), viewer)
      const expected = bucketsOf(raw.series[0]!.points)
      for (const agg of ['count', 'sum', 'min', 'max'] as const) {
        const res = await getJson<SeriesResponse>(gw, seriesPath(metric, { device: creds.id, step: '1m', agg }), viewer)
        expect(res.source).toBe('rollup_1m')
        expect(res.series).toHaveLength(1)
        const want = [...expected].map(([bucket, a]) => [bucket, a[agg]])
        expect(res.series[0]!.points, `${metric} ${agg}`).toEqual(want)
      }
      const counts = await getJson<SeriesResponse>(gw, seriesPath(metric, { device: creds.id, step: '1m', agg: 'count' }), viewer)
      expect(counts.series[0]!.points.reduce((n, [, c]) => n + c, 0)).toBe(READINGS)
    }
  })
})

describe('a burst of readings from mosquitto_pub -l (one QoS 1 PUBLISH per stdin line)', () => {
  let creds: DeviceCredentials

  beforeAll(async () => {
    creds = await gw.addDevice('scale-07', { kind: 'scale', zone: 'dock' })
  })

  it('stores every line once mosquitto_pub exits 0', async () => {
    const lines = Array.from({ length: BURST }, (_, i) => readingPayload(i, t0 + i * 1000 + 7))
    const started = Date.now()
    const res = await mosquittoPubLines(gw.ports.mqtt, creds, topicOf('test', creds.id, 'reading'), lines)
    expect(res.code, res.stderr).toBe(0)
    // mosquitto_pub disconnects only after the last PUBACK, and a PUBACK follows the commit.
    expect(gw.store.series.countPoints({ device: creds.id, metric: 'temperature_c' })).toBe(BURST)
    expect(gw.store.series.countPoints({ device: creds.id, metric: 'humidity_pct' })).toBe(BURST)
    expect(gw.store.deadLetters.list({ limit: 10, device: creds.id })).toEqual([])
    console.info(`[e2e-ingest] mosquitto_pub burst of ${BURST} lines done in ${Date.now() - started} ms`)
  })

  it('adds up with the other device: the unfiltered series API returns every stored point, per device', async () => {
    for (const metric of ['temperature_c', 'humidity_pct']) {
      const res = await getJson<SeriesResponse>(gw, seriesPath(metric), viewer)
      const byDevice = Object.fromEntries(res.series.map((s) => [s.labels.device, s.points.length]))
      expect(byDevice).toEqual({ 'env-01': READINGS, 'scale-07': BURST })
      expect(byDevice['env-01']! + byDevice['scale-07']!).toBe(gw.store.series.countPoints({ metric }))

      const counts = await getJson<SeriesResponse>(gw, seriesPath(metric, { step: '1m', agg: 'count' }), viewer)
      const total = counts.series.flatMap((s) => s.points).reduce((n, [, c]) => n + c, 0)
      expect(total).toBe(READINGS + BURST)
    }
  })
})

describe('the WebSocket transport (ws://, path /mqtt)', () => {
  it('stores readings a device publishes over WebSocket, acknowledged like over TCP', async () => {
    const creds = await gw.addDevice('tracker-ws', { kind: 'tracker' })
    const device = await connectMqtt(gw.ports.ws, { clientId: creds.id, username: creds.username, password: creds.password }, 'ws')
    try {
      expect(device.options.protocol).toBe('ws')
      const topic = topicOf('test', creds.id, 'reading')
      const acked = await publishAll(
        device,
        Array.from({ length: 50 }, (_, i) => ({ topic, payload: readingPayload(i, t0 + i * 1000 + 3) })),
        10,
      )
      expect(acked).toBe(50)
      expect(gw.store.series.countPoints({ device: creds.id, metric: 'temperature_c' })).toBe(50)
      const res = await getJson<SeriesResponse>(gw, seriesPath('humidity_pct', { device: creds.id }), viewer)
      expect(res.series[0]!.points).toHaveLength(50)
    } finally {
      await device.endAsync()
    }
  })
})

describe('a `readings` batch payload', () => {
  let device: MqttClient
  let creds: DeviceCredentials
  let rejections: Inbox
  const batch = (): string =>
    JSON.stringify({
      v: 1,
      readings: Array.from({ length: 250 }, (_, i) => ({
        ts: t0 + i * 1000 + 11,
        seq: 100_000 + i,
        metrics: { temperature_c: temperature(i) },
        sku: 'SKU-1001',
      })),
    })

  beforeAll(async () => {
    creds = await gw.addDevice('scale-batch', { kind: 'scale' })
    device = await connectDevice(gw.ports.mqtt, creds)
    rejections = await Inbox.open(device, topicOf('test', creds.id, 'errors'))
  })

  afterAll(async () => {
    await device?.endAsync()
  })

  it('stores every element of a batch of 250 under one PUBACK, labelled with its sku', async () => {
    await publishAcked(device, topicOf('test', creds.id, 'reading'), batch())
    expect(gw.store.series.countPoints({ device: creds.id, metric: 'temperature_c', sku: 'SKU-1001' })).toBe(250)
    const res = await getJson<SeriesResponse>(gw, seriesPath('temperature_c', { device: creds.id, sku: 'SKU-1001' }), viewer)
    expect(res.series[0]!.points).toEqual(Array.from({ length: 250 }, (_, i) => [t0 + i * 1000 + 11, temperature(i)]))
  })

  it('stores nothing twice when the same batch is resent, and says so per element (seq.duplicate)', async () => {
    await publishAcked(device, topicOf('test', creds.id, 'reading'), batch())
    expect(gw.store.series.countPoints({ device: creds.id, metric: 'temperature_c' })).toBe(250)
    const first = await rejections.next()
    expect(first).toMatchObject({ code: 'seq.duplicate', topic: topicOf('test', creds.id, 'reading'), seq: 100_000 })
    expect(gw.store.deadLetters.list({ limit: 1000, device: creds.id, code: 'seq.duplicate' })).toHaveLength(250)
  })
})

describe('after a clean restart on the same data dir', () => {
  it('returns the same raw points and minute rollups as before the restart', async () => {
    const paths = [
      seriesPath('temperature_c'),
      seriesPath('humidity_pct', { device: 'env-01' }),
      seriesPath('temperature_c', { step: '1m', agg: 'sum' }),
      seriesPath('humidity_pct', { step: '1m', agg: 'count' }),
      seriesPath('temperature_c', { step: '1h', agg: 'max' }),
    ]
    const read = (): Promise<SeriesResponse[]> => Promise.all(paths.map((p) => getJson<SeriesResponse>(gw, p, viewer)))
    const before = await read()
    const stored = gw.store.series.countPoints({})

    const dataDir = gw.dataDir
    await gw.stop()
    gw = await startTestGateway({}, dataDir)

    expect(gw.store.series.countPoints({})).toBe(stored)
    expect(await read()).toEqual(before)
  })
})
