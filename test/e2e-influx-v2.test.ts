/**
 * The v2 write path (`@influxdata/influxdb-client`, `POST /api/v2/write`) end to end. InfluxDB 1.6,
 * the one Debian ships, has no v2 API, so the server here is Debian's VictoriaMetrics, which accepts
 * `/api/v2/write` (it ignores org, bucket and token). Its query side is not InfluxQL or Flux, so
 * the points are read back with its export API; VictoriaMetrics names a series
 * `{measurement}_{field}` and stores string fields as numbers, so only numeric fields are compared.
 */
import type { MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ReplicatorStats } from '../gateway/sink/replicator.ts'
import { getJson, publishAll, waitFor } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, topicOf, type TestGateway } from './helpers/gateway.ts'
import { requireBinary, startVictoriaMetrics, type VictoriaMetrics } from './helpers/influxd.ts'

const BASE = Math.floor((Date.now() - 3_600_000) / 1000) * 1000

type Status = { replication: { influx: Partial<ReplicatorStats> } }

describe.skipIf(!requireBinary('victoria-metrics'))('InfluxDB v2 write API (client library) against VictoriaMetrics', () => {
  let vm: VictoriaMetrics
  let gw: TestGateway | undefined
  const clients: MqttClient[] = []

  beforeAll(async () => {
    vm = await startVictoriaMetrics()
  }, 40_000)
  afterAll(async () => {
    await vm?.dispose()
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
    await gw?.dispose()
    gw = undefined
  })

  it('replicates readings and scans; the samples and their sums equal the embedded store', async () => {
    gw = await startTestGateway({
      influx: { enabled: true, protocol: 'v2', url: vm.url, org: 'acme', bucket: 'stockyard', token: 'not-checked-by-vm', flushMs: 50 },
    })
    const token = gw.token('viewer')
    const env = await gw.addDevice('env-1', { zone: 'cold-room' })
    const scanner = await gw.addDevice('scan-1', { kind: 'scanner', zone: 'dock' })
    const N = 2000
    let sum = 0
    const client = await connectDevice(gw.ports.mqtt, env)
    clients.push(client)
    await publishAll(
      client,
      Array.from({ length: N }, (_, i) => {
        const value = (i % 50) / 4
        sum += value
        return { topic: topicOf('test', env.id, 'reading'), payload: JSON.stringify({ v: 1, ts: BASE + i * 1000, metrics: { temperature_c: value } }) }
      }),
    )
    const scans = await connectDevice(gw.ports.mqtt, scanner)
    clients.push(scans)
    await publishAll(
      scans,
      Array.from({ length: 30 }, (_, i) => ({
        topic: topicOf('test', scanner.id, 'scan'),
        payload: JSON.stringify({ v: 1, ts: BASE + i * 1000, event: 'pick', sku: 'SKU-7', qty: i + 1, location: 'A-01' }),
      })),
    )
    let status: Status | undefined
    expect(
      await waitFor(
        async () => {
          status = await getJson<Status>(gw!, '/api/v1/status', token)
          const l = status.replication.influx.lanes
          return l !== undefined && l.points.lagRows === 0 && l.events.lagRows === 0 && l.points.head === N && l.events.head === 30
        },
        20_000,
        100,
      ),
    ).toBe(true)
    expect(status!.replication.influx.lanes!.points.sentLines).toBe(N)

    const temps = await vm.exportSeries('{__name__="environment_temperature_c"}')
    expect(temps).toHaveLength(1)
    // Tags arrive as labels.
    expect(temps[0]!.metric).toMatchObject({ site: 'test', zone: 'cold-room', device: 'env-1' })
    expect(temps[0]!.values).toHaveLength(N)
    expect(temps[0]!.values.reduce((a, b) => a + b, 0)).toBeCloseTo(sum, 6)
    expect(temps[0]!.timestamps[0]).toBe(BASE)
    const qty = await vm.exportSeries('{__name__="scan_qty"}')
    expect(qty.map((s) => s.metric)).toEqual([expect.objectContaining({ sku: 'SKU-7', event: 'pick', zone: 'dock' })])
    expect(qty[0]!.values.reduce((a, b) => a + b, 0)).toBe((30 * 31) / 2)
  }, 60_000)
})
