/**
 * Replication to InfluxDB 1.x, end to end against a real `influxd` (Debian's InfluxDB 1.6) on
 * 127.0.0.1: devices publish over MQTT, the gateway stores in SQLite and replicates from its durable
 * cursor, and InfluxQL must give the same counts and sums as the embedded store.
 */
import type { MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { LineSchema } from '../gateway/sink/influx/lines.ts'
import { InfluxV1Writer } from '../gateway/sink/influx/v1.ts'
import type { ReplicatorStats } from '../gateway/sink/replicator.ts'
import { ConfigSchema } from '../gateway/config/schema.ts'
import { deadLetterRows, getJson, publishAll, scrapeMetric, waitFor } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, topicOf, type TestGateway } from './helpers/gateway.ts'
import { requireBinary, startInfluxd, type Influxd, type InfluxResult } from './helpers/influxd.ts'
import { runCli } from './helpers/proc-stockyard.ts'

const HOUR = 3_600_000
/** Readings are stamped from an hour ago, one second apart per device: every (series, ts) is unique. */
const BASE = Math.floor((Date.now() - HOUR) / 1000) * 1000

interface Status {
  replication: { influx: { enabled: boolean; running?: boolean } & Partial<ReplicatorStats> }
}

/** The single value of a one-row InfluxQL answer, by column. */
function cell(results: InfluxResult[], column: string): unknown {
  const s = results[0]?.series?.[0]
  if (!s) return undefined
  return s.values[0]?.[s.columns.indexOf(column)]
}

async function caughtUp(gw: TestGateway, token: string, timeoutMs = 20_000): Promise<Status> {
  let last: Status | undefined
  const ok = await waitFor(
    async () => {
      last = await getJson<Status>(gw, '/api/v1/status', token)
      const lanes = last.replication.influx.lanes
      return lanes !== undefined && lanes.points.lagRows === 0 && lanes.events.lagRows === 0 && lanes.points.head > 0
    },
    timeoutMs,
    100,
  )
  if (!ok) throw new Error(`replication did not catch up: ${JSON.stringify(last)}`)
  return last!
}

describe.skipIf(!requireBinary('influxd'))('InfluxDB 1.x sink against a real influxd', () => {
  let influx: Influxd
  let gw: TestGateway | undefined
  const clients: MqttClient[] = []

  beforeAll(async () => {
    influx = await startInfluxd()
  }, 40_000)
  afterAll(async () => {
    await influx?.dispose()
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await gw?.dispose()
    gw = undefined
  })

  function influxConfig(database: string, extra: Record<string, unknown> = {}) {
    return { influx: { enabled: true, url: influx.url, database, flushMs: 50, retryBaseMs: 50, retryMaxMs: 500, ...extra } }
  }

  it('ingests over MQTT, and InfluxQL gives the same counts and sums as the embedded store', async () => {
    gw = await startTestGateway(influxConfig('e2e'))
    const token = gw.token('viewer')
    const env = await Promise.all(['env-1', 'env-2', 'env-3'].map((id, i) => gw!.addDevice(id, { kind: 'env', zone: `cold-${i}` })))
    const scanner = await gw.addDevice('scan-1', { kind: 'scanner', zone: 'dock' })
    const tracker = await gw.addDevice('trk-1', { kind: 'tracker', zone: 'yard' })
    const N = 1500
    let expectedSum = 0
    for (const [d, creds] of env.entries()) {
      const client = await connectDevice(gw.ports.mqtt, creds)
      clients.push(client)
      const messages = Array.from({ length: N }, (_, i) => {
        const value = Math.round((2 + d + Math.sin(i) * 3) * 100) / 100
        expectedSum += value
        return {
          topic: topicOf('test', creds.id, 'reading'),
          payload: JSON.stringify({ v: 1, ts: BASE + i * 1000, seq: i + 1, metrics: { temperature_c: value, humidity_pct: 50 + (i % 7) } }),
        }
      })
      expect(await publishAll(client, messages)).toBe(N)
    }
    const scans = await connectDevice(gw.ports.mqtt, scanner)
    clients.push(scans)
    const scanMsgs = Array.from({ length: 40 }, (_, i) => ({
      topic: topicOf('test', scanner.id, 'scan'),
      payload: JSON.stringify({
        v: 1,
        ts: BASE + i * 1000,
        event: i % 4 === 0 ? 'receive' : 'pick',
        sku: `SKU-${i % 5}`,
        qty: i + 1,
        location: 'A-01',
        ref: `SO-${i}`,
      }),
    }))
    await publishAll(scans, scanMsgs)
    const trk = await connectDevice(gw.ports.mqtt, tracker)
    clients.push(trk)
    await publishAll(trk, [
      { topic: topicOf('test', tracker.id, 'shipment'), payload: JSON.stringify({ v: 1, ts: BASE, shipmentId: 'SH-1', status: 'loaded' }) },
      {
        topic: topicOf('test', tracker.id, 'shipment'),
        payload: JSON.stringify({ v: 1, ts: BASE + 1000, shipmentId: 'SH-1', status: 'departed', position: { lat: 52.1, lon: 4.3 } }),
      },
    ])

    const status = await caughtUp(gw, token)
    expect(status.replication.influx).toMatchObject({ enabled: true, running: true })
    // Each reading's two metrics went out as one line with two fields.
    expect(status.replication.influx.lanes!.points.sentLines).toBe(N * 3)

    // The embedded store's own view, through its API (1-hour buckets from the rollups).
    const stored = await getJson<{ series: Array<{ labels: { device: string }; points: Array<[number, number]> }> }>(
      gw,
      `/api/v1/series?metric=temperature_c&from=${BASE - HOUR}&to=${BASE + 2 * HOUR}&step=1d&agg=count`,
      token,
    )
    const storedCount = stored.series.reduce((n, s) => n + s.points.reduce((m, [, v]) => m + v, 0), 0)
    expect(storedCount).toBe(N * 3)

    const all = await influx.query('SELECT count(temperature_c), sum(temperature_c) FROM environment', 'e2e')
    expect(cell(all, 'count')).toBe(N * 3)
    expect(cell(all, 'sum') as number).toBeCloseTo(expectedSum, 6)
    // Per device too: the tags carry the labels.
    const perDevice = await influx.query('SELECT count(humidity_pct) FROM environment GROUP BY device, zone', 'e2e')
    const rows = perDevice[0]!.series!.map((s) => [s.tags!.device, s.tags!.zone, s.values[0]![1]])
    expect(rows.sort()).toEqual([
      ['env-1', 'cold-0', N],
      ['env-2', 'cold-1', N],
      ['env-3', 'cold-2', N],
    ])
    // Events: scans (sku and event as tags, qty as a float field, ref as a string field) and shipments.
    const scanSum = scanMsgs.reduce((s, m) => s + (JSON.parse(m.payload) as { qty: number }).qty, 0)
    const sc = await influx.query('SELECT count(qty), sum(qty) FROM scan', 'e2e')
    expect(cell(sc, 'count')).toBe(40)
    expect(cell(sc, 'sum')).toBe(scanSum)
    expect(gw.store.series.countEvents({ kind: 'scan' })).toBe(40)
    const refs = await influx.query(`SELECT ref FROM scan WHERE sku = 'SKU-1' AND event = 'pick'`, 'e2e')
    expect(refs[0]!.series![0]!.values.map((v) => v[1])).toEqual(['SO-1', 'SO-6', 'SO-11', 'SO-21', 'SO-26', 'SO-31'])
    const ship = await influx.query('SELECT shipment_id, lat FROM shipment GROUP BY status', 'e2e')
    expect(ship[0]!.series!.map((s) => [s.tags!.status, s.values[0]![1], s.values[0]![2]]).sort()).toEqual([
      ['departed', 'SH-1', 52.1],
      ['loaded', 'SH-1', null],
    ])

    // The lag is exported for Prometheus too.
    const admin = gw.token('admin')
    expect(await scrapeMetric(gw, admin, 'stockyard_sink_lag_rows', { sink: 'influx', lane: 'points' })).toBe(0)
    expect(await scrapeMetric(gw, admin, 'stockyard_sink_sent_lines', { sink: 'influx', lane: 'points' })).toBe(N * 3)
    expect(await scrapeMetric(gw, admin, 'stockyard_sink_up', { sink: 'influx' })).toBe(1)
  }, 60_000)

  it('sends a field-type conflict to the dead letters with the server reason, and the rest of the batch lands', async () => {
    // Someone else wrote humidity_pct as an integer first: InfluxDB now refuses our float for it.
    expect((await influx.write('conflict', 'x v=1')).status).toBe(404)
    await influx.query('CREATE DATABASE conflict')
    expect((await influx.write('conflict', `environment,device=env-1,site=test,zone=z1 humidity_pct=1i ${BASE - 1000}`)).status).toBe(204)
    // One batch holds everything (flushMs long enough for the publishes to gather).
    gw = await startTestGateway(influxConfig('conflict', { flushMs: 2000 }))
    const token = gw.token('viewer')
    const creds = await gw.addDevice('env-1')
    const client = await connectDevice(gw.ports.mqtt, creds)
    clients.push(client)
    const messages = Array.from({ length: 200 }, (_, i) => ({
      topic: topicOf('test', creds.id, 'reading'),
      payload: JSON.stringify({ v: 1, ts: BASE + i * 1000, metrics: i === 77 ? { humidity_pct: 40 } : { temperature_c: i } }),
    }))
    await publishAll(client, messages)
    const status = await caughtUp(gw, token)
    expect(status.replication.influx.lanes!.points.rejectedLines).toBe(1)
    expect(status.replication.influx.lanes!.points.sentLines).toBe(199)

    const dead = deadLetterRows(gw, { code: 'sink.rejected' })
    expect(dead).toHaveLength(1)
    expect(dead[0]!.device).toBe('env-1')
    expect(dead[0]!.sample).toBe(`environment,device=env-1,site=test,zone=z1 humidity_pct=40 ${BASE + 77_000}`)
    // InfluxDB's own words: a field type conflict on humidity_pct.
    expect(dead[0]!.message).toMatch(/HTTP 400: .*field type conflict.*humidity_pct/)
    const landed = await influx.query('SELECT count(temperature_c), sum(temperature_c) FROM environment', 'conflict')
    expect(cell(landed, 'count')).toBe(199)
    expect(cell(landed, 'sum')).toBe((199 * 200) / 2 - 77)
    // Dead letters are listed by the API as well.
    const listed = await getJson<{ rejections: Array<{ code: string }> }>(gw, '/api/v1/rejections?code=sink.rejected', gw.token('admin'))
    expect(listed.rejections.map((r) => r.code)).toEqual(['sink.rejected'])
  }, 60_000)

  it('escapes line protocol so tag values with spaces, commas and = round-trip (writer against the real server)', async () => {
    const cfg = ConfigSchema.parse({ influx: { enabled: true, url: influx.url, database: 'escapes' } }).influx
    const writer = new InfluxV1Writer(cfg)
    const schema = new LineSchema({ 'odd metric': 'odd, measurement=1' })
    const labels = { site: 's 1', zone: 'a,b=c', device: 'dev "x"', sku: 'sku\\1' }
    const line = `${schema.seriesPrefix('temperature_c', labels)}4.5 ${BASE}`
    const odd = `${schema.seriesPrefix('odd metric', labels)}7 ${BASE}`
    // The database does not exist yet: the writer creates it (influx.createDatabase) and writes.
    expect(await writer.write([line, odd])).toEqual({ kind: 'ok' })
    const tags = await influx.query('SELECT temperature_c, site, zone, device, sku FROM environment', 'escapes')
    expect(tags[0]!.series![0]!.values[0]!.slice(1)).toEqual([4.5, 's 1', 'a,b=c', 'dev "x"', 'sku\\1'])
    const m = await influx.query('SHOW MEASUREMENTS', 'escapes')
    expect(m[0]!.series![0]!.values.map((v) => v[0]).sort()).toEqual(['environment', 'odd, measurement=1'])
    const field = await influx.query('SELECT "odd metric" FROM "odd, measurement=1"', 'escapes')
    expect(field[0]!.series![0]!.values[0]![1]).toBe(7)
  })

  it('raises stockyard_replication_at_risk while unreplicated points near retention, and resolves it once they are sent', async () => {
    // The sink points at a closed port; raw retention is 60 s, and the alert fires 55 s before deletion.
    const closed = `http://127.0.0.1:${influx.port + 1}`
    const dataDir = (await import('./helpers/gateway.ts')).tempDir()
    const risky = {
      store: { retention: { rawDays: 60 / 86_400, eventDays: 60 / 86_400 } },
      ...influxConfig('atrisk', { url: closed, retentionWarnMs: 55_000 }),
    }
    gw = await startTestGateway(risky, dataDir)
    const token = gw.token('viewer')
    const creds = await gw.addDevice('env-1')
    const client = await connectDevice(gw.ports.mqtt, creds)
    clients.push(client)
    await publishAll(client, [
      { topic: topicOf('test', creds.id, 'reading'), payload: JSON.stringify({ v: 1, ts: Date.now(), metrics: { temperature_c: 3 } }) },
    ])
    type Alerts = { alerts: Array<{ rule: string; state: string; labels: Record<string, string>; annotations: Record<string, string> }> }
    let firing: Alerts['alerts'] = []
    expect(
      await waitFor(
        async () => {
          firing = (await getJson<Alerts>(gw!, '/api/v1/alerts?state=firing', token)).alerts.filter((a) => a.rule === 'stockyard_replication_at_risk')
          return firing.length === 1
        },
        15_000,
        200,
      ),
    ).toBe(true)
    expect(firing[0]!.labels).toMatchObject({ lane: 'points', sink: 'influx' })
    expect(firing[0]!.annotations.summary).toMatch(
      /^1 points not yet in InfluxDB \(influx-v1 http:\/\/127\.0\.0\.1:\d+ db=atrisk\) will be deleted by retention from \d{4}-/,
    )
    // The sink worker reports its figures every second; the alert may have come first.
    const lagRows = async (): Promise<number | undefined> => (await getJson<Status>(gw!, '/api/v1/status', token)).replication.influx.lanes?.points.lagRows
    expect(await waitFor(async () => (await lagRows()) !== undefined, 10_000, 100)).toBe(true)
    expect(await lagRows()).toBe(1)
    const admin = gw.token('admin')
    expect(await waitFor(async () => (await scrapeMetric(gw!, admin, 'stockyard_sink_up', { sink: 'influx' })) === 0, 5000, 100)).toBe(true)

    // Same data dir, now with the real server: the point is sent and the alert resolves.
    client.end(true)
    clients.length = 0
    await gw.stop()
    gw = await startTestGateway({ ...risky, ...influxConfig('atrisk', { retentionWarnMs: 55_000 }) }, dataDir)
    await caughtUp(gw, token)
    expect(cell(await influx.query('SELECT count(temperature_c) FROM environment', 'atrisk'), 'count')).toBe(1)
    expect(
      await waitFor(
        async () => (await getJson<Alerts>(gw!, '/api/v1/alerts?state=resolved', token)).alerts.some((a) => a.rule === 'stockyard_replication_at_risk'),
        10_000,
        200,
      ),
    ).toBe(true)
  }, 60_000)

  it('backfills a time range into a new InfluxDB with `stockyard influx backfill`, and a second run changes nothing', async () => {
    // A gateway without replication stores 600 readings (10 min at 1 s) and 20 scans.
    gw = await startTestGateway()
    const env = await gw.addDevice('env-1')
    const scanner = await gw.addDevice('scan-1', { kind: 'scanner' })
    const client = await connectDevice(gw.ports.mqtt, env)
    clients.push(client)
    await publishAll(
      client,
      Array.from({ length: 600 }, (_, i) => ({
        topic: topicOf('test', env.id, 'reading'),
        payload: JSON.stringify({ v: 1, ts: BASE + i * 1000, metrics: { temperature_c: i } }),
      })),
    )
    const scans = await connectDevice(gw.ports.mqtt, scanner)
    clients.push(scans)
    await publishAll(
      scans,
      Array.from({ length: 20 }, (_, i) => ({
        topic: topicOf('test', scanner.id, 'scan'),
        payload: JSON.stringify({ v: 1, ts: BASE + i * 60_000, event: 'pick', sku: 'SKU-1', qty: 1, location: 'A-01' }),
      })),
    )
    const dataDir = gw.dataDir
    for (const c of clients.splice(0)) c.end(true)
    // While the gateway runs: backfill reads through its own connection.
    const from = new Date(BASE + 100_000).toISOString()
    const to = String(BASE + 400_000)
    const args = ['influx', 'backfill', '--data', dataDir, '--from', from, '--to', to, '--url', influx.url, '--database', 'backfill', '--quiet']
    const run = await runCli(args)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const out = JSON.parse(run.stdout) as { from: string; lanes: Record<string, { sent: number; refused: number }> }
    expect(out.from).toBe(from)
    // [from, to): readings 100..399 and the scans at minutes 2..6.
    expect(out.lanes).toEqual({ points: { sent: 300, refused: 0, refusals: [] }, events: { sent: 5, refused: 0, refusals: [] } })
    const q = 'SELECT count(temperature_c), sum(temperature_c), min(temperature_c), max(temperature_c) FROM environment'
    const first = await influx.query(q, 'backfill')
    expect(first[0]!.series![0]!.values[0]!.slice(1)).toEqual([300, (100 + 399) * 150, 100, 399])
    expect(cell(await influx.query('SELECT count(qty) FROM scan', 'backfill'), 'count')).toBe(5)
    expect((await runCli(args)).code).toBe(0)
    expect(await influx.query(q, 'backfill')).toEqual(first)

    const bad = await runCli(['influx', 'backfill', '--data', dataDir, '--from', 'yesterday', '--to', to])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--from must be an ISO 8601 time/)
    const down = await runCli(
      ['influx', 'backfill', '--data', dataDir, '--from', from, '--to', to, '--url', `http://127.0.0.1:${influx.port + 1}`, '--quiet'],
      {
        env: { STOCKYARD_INFLUX_RETRY_BASE_MS: '10', STOCKYARD_INFLUX_RETRY_MAX_MS: '100' },
      },
    )
    expect(down.code).toBe(2)
    expect(down.stderr).toMatch(/^error sink.unavailable: influx-v1 http:\/\/127.0.0.1:\d+ db=stockyard failed 8 times in a row: network error: ECONNREFUSED/)
  }, 60_000)

  it('restarts a sink worker that died, and it resumes from its cursor: nothing lost, nothing doubled', async () => {
    gw = await startTestGateway(influxConfig('restart'))
    const token = gw.token('viewer')
    const creds = await gw.addDevice('env-1')
    const client = await connectDevice(gw.ports.mqtt, creds)
    clients.push(client)
    const batch = (from: number) =>
      Array.from({ length: 500 }, (_, i) => ({
        topic: topicOf('test', creds.id, 'reading'),
        payload: JSON.stringify({ v: 1, ts: BASE + (from + i) * 1000, metrics: { temperature_c: from + i } }),
      }))
    await publishAll(client, batch(0))
    await caughtUp(gw, token)
    await gw.sink!.kill()
    // Ingest goes on without it.
    await publishAll(client, batch(500))
    expect((await getJson<Status>(gw, '/api/v1/status', token)).replication.influx.running).toBe(false)
    const status = await caughtUp(gw, token, 15_000)
    expect(status.replication.influx.running).toBe(true)
    const q = await influx.query('SELECT count(temperature_c), sum(temperature_c) FROM environment', 'restart')
    expect(q[0]!.series![0]!.values[0]!.slice(1)).toEqual([1000, (999 * 1000) / 2])
  }, 30_000)
})
