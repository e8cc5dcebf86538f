/**
 * HQ's pull from a real gateway: readings over MQTT become closed 1m/1h/1d windows, each pulled once
 * by cursor; late data makes a window come again at its next revision with the corrected values; the
 * NDJSON stream has checkpoints and a last line, gzip when asked; cursors survive a restart, and are
 * refused when altered, of another site or of another stream; a cursor whose rows retention deleted
 * gets 410; a viewer cannot pull; events, alert changes and the site descriptor.
 */
import { gunzipSync } from 'node:zlib'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HqWindow } from '../gateway/hq/read.ts'
import { getJson, httpGet, publishAll, waitFor } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

type Window = HqWindow
type JsonPage = { rows: Window[]; next_cursor: string; more: boolean }

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 24 * HOUR
/** Three hours of event time yesterday (UTC): every window of it, days included, is closed. */
const T0 = Math.floor(Date.now() / DAY) * DAY - DAY + HOUR

let dataDir: string
let gw: TestGateway
let hq: string
let device: MqttClient

async function start(extra: Record<string, unknown> = {}): Promise<void> {
  gw = await startTestGateway({ site: 'east', hq: { allowedLatenessMs: 0 }, ...extra }, dataDir)
  hq = gw.token('hq')
}

/** One reading a minute for `minutes` minutes from `from`, value `v(i)` (of `metrics`, default temperature). */
function readings(from: number, minutes: number, v: (i: number) => number, metrics = ['temperature_c']): Array<{ topic: string; payload: string }> {
  return Array.from({ length: minutes }, (_, i) => ({
    topic: topicOf('east', 'env-1', 'reading'),
    payload: JSON.stringify({ v: 1, ts: from + i * MIN + 1000, metrics: Object.fromEntries(metrics.map((m) => [m, v(i)])) }),
  }))
}

/** Every row of a stream as JSON pages of `limit`, from `cursor`. */
async function pullAll(path: string, cursor = '', limit = 1000): Promise<{ rows: Window[]; cursor: string; pages: number }> {
  const rows: Window[] = []
  let pages = 0
  for (;;) {
    const sep = path.includes('?') ? '&' : '?'
    const page = await getJson<JsonPage>(gw, `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, hq)
    pages++
    rows.push(...page.rows)
    cursor = page.next_cursor
    if (!page.more) return { rows, cursor, pages }
  }
}

const keyOf = (w: Window): string => `${w.resolution}|${w.metric}|${w.labels.device}|${w.start}`

beforeAll(async () => {
  dataDir = tempDir()
  await start()
  device = await connectDevice(gw.ports.mqtt, await gw.addDevice('env-1', { zone: 'cold-1' }))
  // 3 hours of one reading a minute; each 1m window holds one point of value i % 10.
  expect(
    await publishAll(
      device,
      readings(T0, 180, (i) => i % 10),
    ),
  ).toBe(180)
})

afterAll(async () => {
  await device?.endAsync()
  await gw?.dispose()
})

describe('closed windows by cursor', () => {
  let cursor1m = ''

  it('pulls every closed 1m window once, in pages, with site and labels', async () => {
    const all = await pullAll('/api/v1/hq/rollups?resolution=1m', '', 70)
    expect(all.pages).toBe(3)
    expect(all.rows).toHaveLength(180)
    expect(new Set(all.rows.map(keyOf)).size).toBe(180)
    const first = all.rows.find((w) => w.start === T0)!
    expect(first).toEqual({
      site: 'east',
      metric: 'temperature_c',
      labels: { zone: 'cold-1', device: 'env-1', sku: '' },
      resolution: '1m',
      start: T0,
      count: 1,
      sum: 0,
      min: 0,
      max: 0,
      last: 0,
      revision: 1,
    })
    cursor1m = all.cursor
    // Nothing new: an empty page, the same position.
    const again = await getJson<JsonPage>(gw, `/api/v1/hq/rollups?resolution=1m&cursor=${encodeURIComponent(cursor1m)}`, hq)
    expect(again).toMatchObject({ rows: [], more: false })
  })

  it('1h and 1d windows hold the same totals as the 1m ones', async () => {
    const hours = (await pullAll('/api/v1/hq/rollups?resolution=1h')).rows
    expect(hours.map((w) => w.start)).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR])
    for (const h of hours) expect(h).toMatchObject({ count: 60, sum: 270, min: 0, max: 9, last: 9, revision: 1 })
    const days = (await pullAll('/api/v1/hq/rollups?resolution=1d')).rows
    const total = days.reduce((a, d) => ({ count: a.count + d.count, sum: a.sum + d.sum }), { count: 0, sum: 0 })
    expect(total).toEqual({ count: 180, sum: 810 })
  })

  it('sends a window changed by late data again, at its next revision, with the corrected values', async () => {
    // Two late points into the first minute, one into the first minute of the second hour.
    expect(
      await publishAll(device, [
        { topic: topicOf('east', 'env-1', 'reading'), payload: JSON.stringify({ v: 1, ts: T0 + 20_000, metrics: { temperature_c: 50 } }) },
        { topic: topicOf('east', 'env-1', 'reading'), payload: JSON.stringify({ v: 1, ts: T0 + 30_000, metrics: { temperature_c: -5 } }) },
        { topic: topicOf('east', 'env-1', 'reading'), payload: JSON.stringify({ v: 1, ts: T0 + HOUR + 5000, metrics: { temperature_c: 7 } }) },
      ]),
    ).toBe(3)
    const late = (await pullAll('/api/v1/hq/rollups?resolution=1m', cursor1m)).rows
    expect(late.map((w) => [w.start, w.revision, w.count, w.sum, w.min, w.max])).toEqual([
      [T0, 2, 3, 45, -5, 50],
      [T0 + HOUR, 2, 2, 7, 0, 7],
    ])
  })

  it('streams NDJSON with checkpoints and a last line, gzipped when asked', async () => {
    const res = await fetch(gw.url('/api/v1/hq/rollups?resolution=1m&format=ndjson&limit=150'), {
      headers: { authorization: `Bearer ${hq}`, 'accept-encoding': 'gzip' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/)
    // fetch decodes gzip itself; ask the raw bytes through node:http instead to see it was gzip.
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.filter((l) => 'metric' in l)).toHaveLength(150)
    expect(lines.at(-1)).toMatchObject({ rows: 150, more: true })
    const raw = await new Promise<Buffer>((resolve, reject) => {
      void import('node:http').then(({ get }) =>
        get(
          gw.url('/api/v1/hq/rollups?resolution=1m&format=ndjson&limit=5'),
          { headers: { authorization: `Bearer ${hq}`, 'accept-encoding': 'gzip' } },
          (r) => {
            const chunks: Buffer[] = []
            r.on('data', (c: Buffer) => chunks.push(c))
            r.on('end', () => resolve(Buffer.concat(chunks)))
            r.on('error', reject)
          },
        ).on('error', reject),
      )
    })
    const unzipped = gunzipSync(raw).toString().trim().split('\n')
    expect(unzipped).toHaveLength(6)
  })

  it('puts a checkpoint line after every 10,000 rows of a long stream', async () => {
    // 10,050 more windows: 5,025 minutes (3.5 days, within the 7 a reading may be late) of two metrics.
    const from = T0 - 4 * DAY
    expect(
      await publishAll(
        device,
        readings(from, 5_025, () => 1, ['temperature_c', 'humidity_pct']),
        512,
        60_000,
      ),
    ).toBe(5_025)
    const res = await fetch(gw.url('/api/v1/hq/rollups?resolution=1m&format=ndjson&limit=10100'), { headers: { authorization: `Bearer ${hq}` } })
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const checkpoints = lines.filter((l) => 'cursor' in l)
    expect(checkpoints).toEqual([{ cursor: expect.stringMatching(/^c1\./), rows: 10_000 }])
    expect(lines.at(-1)).toMatchObject({ rows: 10_100, more: true })
    // A checkpoint is a cursor: resuming from it gives the rows after it.
    const after = await getJson<JsonPage>(gw, `/api/v1/hq/rollups?resolution=1m&limit=5&cursor=${encodeURIComponent(checkpoints[0]!.cursor as string)}`, hq)
    const idx = lines.findIndex((l) => 'cursor' in l)
    expect(after.rows.map(keyOf)).toEqual(lines.slice(idx + 1, idx + 6).map((l) => keyOf(l as unknown as Window)))
  }, 90_000)
})

describe('cursors', () => {
  it('are refused when altered, of another stream or of another site, and a viewer cannot pull', async () => {
    const { next_cursor } = await getJson<JsonPage>(gw, '/api/v1/hq/rollups?resolution=1h&limit=1', hq)
    const [v, payload, mac] = next_cursor.split('.') as [string, string, string]
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { seq: number }
    const forged = `${v}.${Buffer.from(JSON.stringify({ ...body, seq: body.seq + 1000 })).toString('base64url')}.${mac}`
    const tampered = await httpGet(gw, `/api/v1/hq/rollups?resolution=1h&cursor=${encodeURIComponent(forged)}`, hq)
    expect(tampered.status).toBe(400)
    expect(tampered.text).toMatch(/altered/)
    const otherStream = await httpGet(gw, `/api/v1/hq/rollups?resolution=1m&cursor=${encodeURIComponent(next_cursor)}`, hq)
    expect(otherStream.status).toBe(400)
    expect(otherStream.text).toMatch(/cursor of rollups\/1h, not of rollups\/1m/)
    expect((await httpGet(gw, '/api/v1/hq/rollups?resolution=1h&cursor=nonsense', hq)).status).toBe(400)
    // A gateway of another site signs its own cursors.
    const west = await startTestGateway({ site: 'west', hq: { allowedLatenessMs: 0 } })
    try {
      const westCursor = (await getJson<JsonPage>(west, '/api/v1/hq/rollups?resolution=1h', west.token('hq'))).next_cursor
      const foreign = await httpGet(gw, `/api/v1/hq/rollups?resolution=1h&cursor=${encodeURIComponent(westCursor)}`, hq)
      expect(foreign.status).toBe(400)
      expect((foreign.body as { error: { message: string } }).error.message).toMatch(/belongs to site "west", this gateway is site "east"/)
    } finally {
      await west.dispose()
    }
    const viewer = await httpGet(gw, '/api/v1/hq/rollups?resolution=1m', gw.token('viewer'))
    expect(viewer.status).toBe(403)
    expect((await httpGet(gw, '/api/v1/hq/rollups?resolution=1m', gw.token('admin'))).status).toBe(200)
  })

  it('survive a restart; one whose rows retention deleted gets 410 saying what is gone', async () => {
    const { next_cursor } = await getJson<JsonPage>(gw, '/api/v1/hq/rollups?resolution=1m&limit=1', hq)
    await device.endAsync()
    await gw.stop()
    await start()
    const resumed = await getJson<JsonPage>(gw, `/api/v1/hq/rollups?resolution=1m&limit=1&cursor=${encodeURIComponent(next_cursor)}`, hq)
    expect(resumed.rows).toHaveLength(1)
    await gw.stop()
    // Keep 1m windows one day: the week-old ones go at the first sweep.
    await start({ store: { retention: { minuteDays: 1, intervalMs: 1000 } } })
    let res = await httpGet(gw, `/api/v1/hq/rollups?resolution=1m&limit=1&cursor=${encodeURIComponent(next_cursor)}`, hq)
    expect(
      await waitFor(
        async () => (res = await httpGet(gw, `/api/v1/hq/rollups?resolution=1m&limit=1&cursor=${encodeURIComponent(next_cursor)}`, hq)).status === 410,
        15_000,
      ),
    ).toBe(true)
    expect(res.text).toMatch(/1m windows before .* were deleted by retention/)
    // Without a cursor, the pull starts at what is left.
    expect((await httpGet(gw, '/api/v1/hq/rollups?resolution=1m&limit=1', hq)).status).toBe(200)
  }, 60_000)
})

describe('events, alert changes and the site', () => {
  it('streams events by cursor and describes the site', async () => {
    type Rows = { rows: Array<Record<string, unknown>>; next_cursor: string; more: boolean }
    const before = await getJson<Rows>(gw, '/api/v1/hq/events', hq)
    const scanner = await connectDevice(gw.ports.mqtt, await gw.addDevice('scan-1', { kind: 'scanner', zone: 'dock' }))
    const scan = (qty: number): { topic: string; payload: string } => ({
      topic: topicOf('east', 'scan-1', 'scan'),
      payload: JSON.stringify({ v: 1, ts: Date.now(), event: 'receive', sku: 'SKU-1', qty, location: 'DOCK-1', ref: 'PO-1' }),
    })
    expect(await publishAll(scanner, [scan(3), scan(4)])).toBe(2)
    const ev = await getJson<Rows>(gw, `/api/v1/hq/events?cursor=${encodeURIComponent(before.next_cursor)}`, hq)
    expect(ev.rows.map((r) => [r.site, r.kind, r.device, r.zone, r.sku, r.ref, (r.body as { qty: number }).qty])).toEqual([
      ['east', 'scan', 'scan-1', 'dock', 'SKU-1', 'PO-1', 3],
      ['east', 'scan', 'scan-1', 'dock', 'SKU-1', 'PO-1', 4],
    ])
    expect((await getJson<Rows>(gw, `/api/v1/hq/events?cursor=${encodeURIComponent(ev.next_cursor)}`, hq)).rows).toEqual([])
    await scanner.endAsync()
    const site = await getJson<Record<string, unknown>>(gw, '/api/v1/hq/site', hq)
    expect(site).toMatchObject({
      site: 'east',
      timeZone: 'UTC',
      zones: ['cold-1', 'dock'],
      metrics: [
        { metric: 'humidity_pct', series: 1 },
        { metric: 'temperature_c', series: 1 },
      ],
      resolutions: ['1m', '1h', '1d'],
    })
    const alerts = await getJson<{ rows: unknown[]; more: boolean }>(gw, '/api/v1/hq/alerts', hq)
    expect(alerts.more).toBe(false)
  })
})

describe('acknowledgements and store.retention.waitForHqAck', () => {
  it('keeps windows past their retention until HQ acks them, up to the hard cap, which raises an alert', async () => {
    const dir = tempDir()
    const ack = await startTestGateway(
      { site: 'north', hq: { allowedLatenessMs: 0 }, store: { retention: { minuteDays: 1, waitForHqAck: true, hqAckCapDays: 2, intervalMs: 1000 } } },
      dir,
    )
    try {
      const token = ack.token('hq')
      const dev = await connectDevice(ack.ports.mqtt, await ack.addDevice('env-9', { zone: 'z' }))
      const at = (daysAgo: number, i: number): { topic: string; payload: string } => ({
        topic: topicOf('north', 'env-9', 'reading'),
        payload: JSON.stringify({ v: 1, ts: Date.now() - daysAgo * DAY + i * MIN, metrics: { temperature_c: 1 } }),
      })
      // 5 windows 2 days old (past the 1-day retention, within the cap of 1 + 2 days) and 5 windows 3.5
      // days old (past the cap).
      expect(await publishAll(dev, [...[0, 1, 2, 3, 4].map((i) => at(2, i)), ...[0, 1, 2, 3, 4].map((i) => at(3.5, i))])).toBe(10)
      // (The first sweep may already have taken the 3.5-day-old ones.)
      const pulled = await pullAll2(ack, token)
      expect(pulled.rows.length).toBeGreaterThanOrEqual(5)
      // The sweep deletes the 3.5-day-old windows (the cap) and keeps the unacknowledged 2-day-old ones...
      expect(await waitFor(async () => (await pullAll2(ack, token)).rows.length === 5, 15_000)).toBe(true)
      // ...and says so with a built-in alert.
      expect(
        await waitFor(async () => {
          const { alerts } = await getJson<{ alerts: Array<{ rule: string; state: string; labels: Record<string, string> }> }>(ack, '/api/v1/alerts', token)
          return alerts.some((a) => a.rule === 'stockyard_hq_ack_overdue' && a.state === 'firing' && a.labels.table === 'rollup_1m')
        }, 10_000),
      ).toBe(true)
      // Acknowledged: the next sweeps delete the rest.
      const acked = await fetch(ack.url('/api/v1/hq/ack'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ cursor: pulled.cursor }),
      })
      expect(acked.status).toBe(200)
      expect(await acked.json()).toMatchObject({ stream: 'rollups/1m', acked: pulled.cursor })
      expect(await waitFor(async () => (await pullAll2(ack, token)).rows.length === 0, 15_000)).toBe(true)
      // An older cursor acknowledged again moves nothing back; a bad one and a viewer are refused.
      const first = await fetch(ack.url('/api/v1/hq/ack'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ cursor: pulled.firstCursor }),
      })
      expect(((await first.json()) as { acked: string }).acked).toBe(pulled.cursor)
      const bad = await fetch(ack.url('/api/v1/hq/ack'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ cursor: 'c1.x.y' }),
      })
      expect(bad.status).toBe(400)
      const viewer = await fetch(ack.url('/api/v1/hq/ack'), {
        method: 'POST',
        headers: { authorization: `Bearer ${ack.token('viewer')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ cursor: pulled.cursor }),
      })
      expect(viewer.status).toBe(403)
      await dev.endAsync()
    } finally {
      await ack.dispose()
    }
  }, 60_000)
})

/** Every 1m window of `g` from the start, in one page; and the cursor after its first row. */
async function pullAll2(g: TestGateway, token: string): Promise<{ rows: Window[]; cursor: string; firstCursor: string }> {
  const all = await getJson<JsonPage>(g, '/api/v1/hq/rollups?resolution=1m&limit=1000', token)
  const first = await getJson<JsonPage>(g, '/api/v1/hq/rollups?resolution=1m&limit=1', token)
  return { rows: all.rows, cursor: all.next_cursor, firstCursor: first.next_cursor }
}
