/**
 * Our durability promise: a PUBACK means the message survives kill -9 of the gateway.
 *
 * The real `stockyard start` runs as a child process. One device publishes QoS 1 readings at full
 * speed, with hundreds in flight, each with a unique seq (the value of the reading is its seq too).
 * We note every seq whose PUBACK arrived, kill -9 the gateway mid-stream, restart it on the same
 * data dir, and check that every acknowledged seq is stored, through the HTTP API of the restarted
 * gateway and by reading the SQLite file after a clean stop.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import type { MqttClient } from 'mqtt'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DeviceCredentials } from '../gateway/store/types.ts'
import { connectDevice, tempDir, topicOf } from './helpers/gateway.ts'
import { cliJson, GatewayProcess } from './helpers/proc-stockyard.ts'

const SITE = 'test'
const METRIC = 'crash_seq'
/**
 * Readings are stamped BASE_TS + seq: each has its own ts, all pass the time checks, and all fall
 * in one whole hour bucket (BASE_TS is on an hour boundary one to two hours ago).
 */
const BASE_TS = Math.floor((Date.now() - 2 * 3_600_000) / 3_600_000) * 3_600_000 + 3_600_000
/** How many QoS 1 PUBLISHes may wait for their PUBACK at once. */
const IN_FLIGHT = 500

interface Round {
  /** Seqs whose PUBACK arrived (publish callback without error). */
  acked: Set<number>
  sent: number
  /** Published but not acknowledged when the gateway died. */
  inFlightAtKill: number
}

let dir: string
let running: GatewayProcess[] = []

beforeEach(() => {
  dir = tempDir('stockyard-crash-')
  running = []
})

afterEach(async () => {
  for (const gw of running) {
    gw.kill9()
    await gw.exited
  }
  rmSync(dir, { recursive: true, force: true })
})

async function startGateway(extra: string[] = []): Promise<{ gw: GatewayProcess; mqtt: number; http: number }> {
  const args = ['--data', dir, '--site', SITE, '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0', '--log-level', 'info', ...extra]
  const { gw, ready } = await GatewayProcess.start(args, { lifetimeS: 90 })
  running.push(gw)
  return { gw, mqtt: ready.ports.mqtt, http: ready.ports.http }
}

/**
 * Publish readings seq = firstSeq, firstSeq+1, ... keeping IN_FLIGHT unacknowledged, kill -9 the
 * gateway after `killAfterMs`, and return what was acknowledged before the connection dropped.
 */
async function publishAndKill(gw: GatewayProcess, client: MqttClient, creds: DeviceCredentials, firstSeq: number, killAfterMs: number): Promise<Round> {
  const topic = topicOf(SITE, creds.id, 'reading')
  const round: Round = { acked: new Set(), sent: 0, inFlightAtKill: 0 }
  let next = firstSeq
  let inFlight = 0
  let open = true
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
  client.on('error', () => {}) // ECONNRESET when the gateway dies; the 'close' above is what we wait for
  const pump = (): void => {
    while (open && client.connected && inFlight < IN_FLIGHT) {
      const seq = next++
      const payload = JSON.stringify({ v: 1, ts: BASE_TS + seq, seq, metrics: { [METRIC]: seq } })
      inFlight++
      round.sent++
      client.publish(topic, payload, { qos: 1 }, (err) => {
        inFlight--
        if (!err) round.acked.add(seq)
        // Refill from a fresh tick so a burst of PUBACKs does not recurse.
        if (open) setImmediate(pump)
      })
    }
  }
  pump()
  await sleep(killAfterMs)
  // Stop queueing new PUBLISHes; the IN_FLIGHT ones already sent are what the kill interrupts.
  open = false
  round.inFlightAtKill = inFlight
  gw.kill9()
  await gw.exited
  // PUBACKs the gateway wrote before it died may still be in our socket buffer: read them all.
  await closed
  // Unacknowledged PUBLISHes now get their callbacks with an error; they are not counted.
  await new Promise<void>((resolve) => client.end(true, {}, () => resolve()))
  return round
}

/** Seqs stored as raw points of the device (value = seq), read from the SQLite file. */
function storedSeqs(): { values: Set<number>; keys: Set<number>; points: number } {
  const db = new Database(join(dir, 'stockyard.db'), { readonly: true, fileMustExist: true })
  try {
    const values = db
      .prepare(`SELECT p.value FROM points p JOIN series s ON s.id = p.series_id WHERE s.metric = ? AND s.device = 'd1'`)
      .pluck()
      .all(METRIC) as number[]
    const keys = db.prepare(`SELECT seq FROM msg_keys WHERE device = 'd1'`).pluck().all() as number[]
    return { values: new Set(values), keys: new Set(keys), points: values.length }
  } finally {
    db.close()
  }
}

/**
 * GET /api/v1/series of the device's readings over [BASE_TS, BASE_TS + toSeq], with extra query
 * parameters. Raw reads are paged by time (one reading per ms), since one raw read returns at most
 * 100,000 points per series.
 */
async function series(httpPort: number, token: string, toSeq: number, extra = ''): Promise<Array<[number, number]>> {
  const end = BASE_TS + toSeq + 1
  const page = extra ? end - BASE_TS : 50_000
  const out: Array<[number, number]> = []
  for (let from = BASE_TS; from < end; from += page) {
    const to = Math.min(end, from + page)
    const url = `http://127.0.0.1:${httpPort}/api/v1/series?metric=${METRIC}&device=d1&from=${from}&to=${to}${extra}`
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { series: Array<{ points: Array<[number, number]> }> }
    out.push(...body.series.flatMap((s) => s.points))
  }
  return out
}

function missing(acked: Set<number>, stored: Set<number>): number[] {
  return [...acked].filter((s) => !stored.has(s)).sort((a, b) => a - b)
}

async function provision(): Promise<{ creds: DeviceCredentials; token: string }> {
  const creds = await cliJson<DeviceCredentials>(['devices', 'add', '--data', dir, '--id', 'd1', '--kind', 'env', '--site', SITE, '--zone', 'z1'])
  const { token } = await cliJson<{ token: string }>(['tokens', 'add', '--role', 'viewer', '--data', dir])
  return { creds, token }
}

/** Run kill rounds, then restart, and check every acknowledged seq against the store. */
async function crashRounds(killPointsMs: number[], extraFlags: string[] = []): Promise<Round[]> {
  const { creds, token } = await provision()
  const rounds: Round[] = []
  let firstSeq = 1
  for (const killAfterMs of killPointsMs) {
    const { gw, mqtt } = await startGateway(extraFlags)
    const client = await connectDevice(mqtt, creds)
    const round = await publishAndKill(gw, client, creds, firstSeq, killAfterMs)
    rounds.push(round)
    firstSeq += round.sent
    // The kill happened mid-stream: messages were acknowledged and others were still in flight.
    expect(round.acked.size, 'PUBACKs before the kill').toBeGreaterThan(100)
    expect(round.inFlightAtKill, 'PUBLISHes in flight at the kill').toBeGreaterThan(0)
  }
  const acked = new Set(rounds.flatMap((r) => [...r.acked]))
  const sent = firstSeq - 1

  // The gateway restarts on the data dir it was killed on, and serves everything it acknowledged.
  const { gw, http } = await startGateway(extraFlags)
  const raw = await series(http, token, sent)
  expect(missing(acked, new Set(raw.map(([, v]) => v))), 'acknowledged seqs missing from GET /api/v1/series').toEqual([])
  // The rollups lost with the process (kept in memory between flushes) were rebuilt from the raw
  // points at restart: hourly counts add up to the raw points, none missing, none counted twice.
  const hourly = await series(http, token, sent, '&step=1h&agg=count')
  expect(hourly.reduce((n, [, c]) => n + c, 0)).toBe(raw.length)
  const exit = await gw.stop()
  expect(exit.code).toBe(0)

  const stored = storedSeqs()
  // [promise] a PUBACK means the message is stored: none of the acknowledged seqs is missing.
  expect(missing(acked, stored.values), 'acknowledged seqs missing from points').toEqual([])
  expect(missing(acked, stored.keys), 'acknowledged seqs missing from msg_keys').toEqual([])
  // Committed messages whose PUBACK was lost in the kill may be stored too; nothing is stored twice.
  expect(stored.values.size).toBeGreaterThanOrEqual(acked.size)
  expect(stored.points).toBe(stored.values.size)
  expect(Math.max(...stored.values)).toBeLessThanOrEqual(sent)
  return rounds
}

describe('a PUBACK means the message survives kill -9 of the gateway', () => {
  it('keeps every acknowledged reading across two kills at different points of the stream (synchronous NORMAL)', async () => {
    const rounds = await crashRounds([1500, 900])
    expect(rounds).toHaveLength(2)
  })

  it('keeps every acknowledged reading across a kill with --sync-full (fsync per commit)', async () => {
    const rounds = await crashRounds([1500], ['--sync-full'])
    expect(rounds).toHaveLength(1)
  })
})
