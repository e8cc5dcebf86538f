/**
 * Nothing lost, nothing counted twice: 50,000 readings over MQTT into a `stockyard start` child that
 * replicates to a real influxd. influxd is stopped for 30 s in the middle and started again; while
 * the gateway drains the backlog it is killed with kill -9 and restarted on the same data dir. At
 * the end InfluxDB holds every point exactly once: counts and sums equal the embedded store's.
 *
 * Exactly once comes from at-least-once plus InfluxDB's overwrite of a point with the same
 * measurement, tags and timestamp: the batches in flight at the kill are sent again after the
 * restart, and the sums would be off if they were counted twice.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LaneStats, ReplicatorStats } from '../gateway/sink/replicator.ts'
import type { DeviceCredentials } from '../gateway/store/types.ts'
import { publishAll } from './helpers/e2e.ts'
import { connectDevice, tempDir, topicOf } from './helpers/gateway.ts'
import { requireBinary, startInfluxd, type Influxd } from './helpers/influxd.ts'
import { cliJson, GatewayProcess } from './helpers/proc-stockyard.ts'

const SITE = 'test'
const DEVICES = 5
const PER_PHASE = [4000, 4000, 2000] // per device: before the outage, during it, after the kill
const TOTAL = DEVICES * PER_PHASE.reduce((a, b) => a + b, 0)
const OUTAGE_MS = 30_000
const BASE = Math.floor((Date.now() - 3_600_000) / 1000) * 1000

type Status = { replication: { influx: Partial<ReplicatorStats> } }

describe.skipIf(!requireBinary('influxd'))('InfluxDB outage and a kill -9 during the drain', () => {
  let influx: Influxd
  let dir: string
  let gw: GatewayProcess | undefined

  beforeAll(async () => {
    influx = await startInfluxd()
    dir = tempDir('stockyard-outage-')
  }, 40_000)
  afterAll(async () => {
    gw?.kill9()
    await gw?.exited
    await influx?.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  const env = (): NodeJS.ProcessEnv => ({
    STOCKYARD_INFLUX_ENABLED: 'true',
    STOCKYARD_INFLUX_URL: influx.url,
    STOCKYARD_INFLUX_DATABASE: 'outage',
    // Small batches and a short backoff ceiling: the drain takes long enough to be killed in, and
    // resumes soon after influxd is back.
    STOCKYARD_INFLUX_BATCH_LINES: '100',
    STOCKYARD_INFLUX_CONCURRENCY: '1',
    STOCKYARD_INFLUX_RETRY_BASE_MS: '200',
    STOCKYARD_INFLUX_RETRY_MAX_MS: '2000',
  })

  async function start(): Promise<{ mqtt: number; http: number }> {
    const args = ['--data', dir, '--site', SITE, '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0', '--log-level', 'info']
    const started = await GatewayProcess.start(args, { lifetimeS: 150, env: env() })
    gw = started.gw
    return { mqtt: started.ready.ports.mqtt, http: started.ready.ports.http }
  }

  async function influxCount(): Promise<number> {
    // The sink creates the database with its first write; until then there is nothing.
    const res = await influx.query('SELECT count(temperature_c) FROM environment', 'outage').catch((err: Error) => {
      if (/database not found/.test(err.message)) return []
      throw err
    })
    const row = res[0]?.series?.[0]
    return row ? (row.values[0]![1] as number) : 0
  }

  async function status(http: number, token: string): Promise<LaneStats | undefined> {
    const res = await fetch(`http://127.0.0.1:${http}/api/v1/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) })
    return ((await res.json()) as Status).replication.influx.lanes?.points
  }

  /** Publish phase `p` from every device (each reading its own timestamp and a value we can sum). */
  async function publishPhase(mqtt: number, devices: DeviceCredentials[], p: number): Promise<number> {
    const offset = PER_PHASE.slice(0, p).reduce((a, b) => a + b, 0)
    let sum = 0
    const clients: MqttClient[] = []
    try {
      await Promise.all(
        devices.map(async (creds, d) => {
          const client = await connectDevice(mqtt, creds)
          clients.push(client)
          const messages = Array.from({ length: PER_PHASE[p]! }, (_, i) => {
            const n = offset + i
            const value = (n % 97) + d / 10
            sum += value
            return {
              topic: topicOf(SITE, creds.id, 'reading'),
              payload: JSON.stringify({ v: 1, ts: BASE + n * 100, seq: n + 1, metrics: { temperature_c: value } }),
            }
          })
          expect(await publishAll(client, messages, 256, 60_000)).toBe(PER_PHASE[p])
        }),
      )
    } finally {
      for (const c of clients) c.end(true)
    }
    return sum
  }

  it('holds every point exactly once after a 30 s outage and a kill -9 mid-drain', async () => {
    const devices: DeviceCredentials[] = []
    for (let d = 0; d < DEVICES; d++) {
      devices.push(await cliJson<DeviceCredentials>(['devices', 'add', '--data', dir, '--id', `env-${d}`, '--kind', 'env', '--site', SITE, '--zone', 'z1']))
    }
    const { token } = await cliJson<{ token: string }>(['tokens', 'add', '--role', 'viewer', '--data', dir])
    let expectedSum = 0

    let ports = await start()
    expectedSum += await publishPhase(ports.mqtt, devices, 0)
    const beforeOutage = DEVICES * PER_PHASE[0]!
    for (const until = Date.now() + 30_000; Date.now() < until && (await influxCount()) < beforeOutage;) await sleep(100)

    // The outage: ingest goes on (every PUBACK arrives), replication waits and the lag grows.
    await influx.stop()
    const outageStart = Date.now()
    expectedSum += await publishPhase(ports.mqtt, devices, 1)
    await sleep(3000)
    const during = await status(ports.http, token)
    expect(during?.lagRows).toBeGreaterThanOrEqual(DEVICES * PER_PHASE[1]!)
    expect(during?.lastError).toMatch(/network error|ECONNREFUSED/)
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)))
    await influx.start()

    // kill -9 while the backlog drains: once InfluxDB holds part of the outage's readings.
    const backlogEnd = beforeOutage + DEVICES * PER_PHASE[1]!
    expect(await influxCount()).toBe(beforeOutage)
    let seen = beforeOutage
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline && seen === beforeOutage) {
      seen = await influxCount()
      if (seen === beforeOutage) await sleep(2)
    }
    gw!.kill9()
    await gw!.exited
    const atKill = await influxCount()
    expect(seen, 'the drain had started').toBeGreaterThan(beforeOutage)
    expect(atKill, 'the drain was killed before it finished').toBeLessThan(backlogEnd)

    ports = await start()
    expectedSum += await publishPhase(ports.mqtt, devices, 2)
    let last: LaneStats | undefined
    const caughtUpBy = Date.now() + 60_000
    while (Date.now() < caughtUpBy) {
      last = await status(ports.http, token)
      if (last && last.lagRows === 0 && last.head >= TOTAL) break
      await sleep(100)
    }
    expect(last?.lagRows).toBe(0)
    expect(await gw!.stop()).toMatchObject({ code: 0 })
    gw = undefined

    // The embedded store: every acknowledged reading once.
    const db = new Database(join(dir, 'stockyard.db'), { readonly: true })
    const stored = db.prepare('SELECT count(*) AS n, sum(value) AS s FROM points').get() as { n: number; s: number }
    db.close()
    expect(stored.n).toBe(TOTAL)
    expect(stored.s).toBeCloseTo(expectedSum, 4)

    // InfluxDB: the same count and sum, so nothing lost and nothing doubled.
    const res = await influx.query('SELECT count(temperature_c), sum(temperature_c) FROM environment', 'outage')
    const row = res[0]!.series![0]!
    expect(row.values[0]![row.columns.indexOf('count')]).toBe(TOTAL)
    expect(row.values[0]![row.columns.indexOf('sum')] as number).toBeCloseTo(stored.s, 4)
    const perDevice = await influx.query('SELECT count(temperature_c) FROM environment GROUP BY device', 'outage')
    expect(perDevice[0]!.series!.map((s) => s.values[0]![1])).toEqual(Array(DEVICES).fill(TOTAL / DEVICES))
  }, 150_000)
})
