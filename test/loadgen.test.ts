/**
 * The load generator measures brokers, so it must be right about what it sent and what came back.
 * A bare in-process aedes counts what it really received; the generator runs forked, as in the bench.
 */
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Aedes } from 'aedes'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FrameReader, PUBACK } from '../simulators/loadgen/frames.ts'
import { ReadingEncoder } from '../simulators/loadgen/encode.ts'
import { runLoadInChild } from '../simulators/loadgen/fork.ts'
import { runLoad } from '../simulators/loadgen/run.ts'
import type { DeviceIdentity } from '../simulators/loadgen/types.ts'

const devices = (n: number): DeviceIdentity[] => Array.from({ length: n }, (_, i) => ({ id: `dev-${i}`, username: `user-${i}`, password: `pw-${i}` }))
const READING = /^stockyard\/v1\/test\/dev-\d+\/reading$/

let broker: Aedes
let server: net.Server
let port: number
let received: number

beforeEach(async () => {
  broker = await Aedes.createBroker()
  received = 0
  broker.on('publish', (packet) => {
    if (READING.test(packet.topic)) received++
  })
  server = net.createServer(broker.handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as net.AddressInfo).port
})

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await new Promise<void>((resolve) => broker.close(() => resolve()))
})

/** The broker counts a publish a moment before or after our PUBACK arrives; wait (bounded) for it to settle. */
async function receivedSettles(expected: number): Promise<number> {
  for (let i = 0; i < 100 && received < expected; i++) await sleep(20)
  return received
}

describe('load generator', () => {
  it('at a fixed 2,000 msg/s for 1 s sends ~2,000, all PUBACKed, and the broker received exactly those', async () => {
    const r = await runLoadInChild({ host: '127.0.0.1', port, site: 'test', devices: devices(4), mode: { kind: 'rate', msgPerSec: 2000 }, durationMs: 1000 })
    expect(r.sent).toBeGreaterThanOrEqual(1980)
    expect(r.sent).toBeLessThanOrEqual(2000)
    expect(r.acked).toBe(r.sent)
    expect(r.unacked).toBe(0)
    expect(r.unexpectedAcks).toBe(0)
    expect(await receivedSettles(r.sent)).toBe(r.sent)
    expect(r.rate).toBeGreaterThan(1800)
    expect(r.rate).toBeLessThan(2200)
    expect(r.latencyMs.samples).toBe(r.acked)
  })

  it('reports latency percentiles in order: p50 <= p99 <= max', async () => {
    const r = await runLoad({ host: '127.0.0.1', port, site: 'test', devices: devices(2), mode: { kind: 'max' }, durationMs: 300, window: 20 })
    expect(r.acked).toBe(r.sent)
    expect(r.sent).toBeGreaterThan(0)
    expect(await receivedSettles(r.sent)).toBe(r.sent)
    const { p50, p99, max } = r.latencyMs
    expect(p50).toBeGreaterThan(0)
    expect(p50).toBeLessThanOrEqual(p99)
    expect(p99).toBeLessThanOrEqual(max)
  })

  it('keeps at most `window` PUBLISHes un-acknowledged per connection', async () => {
    // A "broker" that accepts the CONNECT and then never acknowledges anything.
    let publishes = 0
    const silent = net.createServer((socket) => {
      const reader = new FrameReader((type) => {
        if (type === 1) socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])) // CONNECT -> CONNACK accepted
        if (type === 3) publishes++
      })
      socket.on('data', (d: Buffer) => reader.push(d)).on('error', () => {})
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const silentPort = (silent.address() as net.AddressInfo).port
      const r = await runLoad({
        host: '127.0.0.1',
        port: silentPort,
        site: 'test',
        devices: devices(2),
        mode: { kind: 'max' },
        durationMs: 200,
        window: 5,
        drainMs: 50,
      })
      expect(r.sent).toBe(10)
      expect(r.acked).toBe(0)
      expect(r.unacked).toBe(10)
      expect(publishes).toBe(10)
    } finally {
      silent.close()
    }
  })

  it('fails with the broker’s reason when a CONNECT is refused', async () => {
    broker.authenticate = (_client, username, _password, done) => {
      const err = Object.assign(new Error('nope'), { returnCode: 4 as const })
      return username === 'user-1' ? done(err, false) : done(null, true)
    }
    await expect(runLoad({ host: '127.0.0.1', port, site: 'test', devices: devices(2), mode: { kind: 'max' }, durationMs: 100 })).rejects.toThrow(
      /dev-1.*bad user name or password/,
    )
  })
})

describe('pre-encoded readings', () => {
  it('are valid Stockyard readings with a unique seq per device and a recent ts', () => {
    const chunk = new ReadingEncoder('test', 'dev-0', 3, 41).next(Date.now())
    const payloads = Array.from({ length: chunk.count }, (_, k) => {
      const packet = chunk.buf.subarray(chunk.offsets[k]!, chunk.offsets[k + 1]!)
      const topicLen = packet.readUInt16BE(2) // fixed header is 2 bytes here (remaining length < 128)
      expect(packet.subarray(4, 4 + topicLen).toString()).toBe('stockyard/v1/test/dev-0/reading')
      expect(packet.readUInt16BE(4 + topicLen)).toBe(chunk.ids[k])
      return JSON.parse(packet.subarray(6 + topicLen).toString()) as { v: number; ts: number; seq: number; metrics: object }
    })
    expect(payloads.map((p) => p.seq)).toEqual([41, 42, 43])
    expect([...chunk.ids]).toEqual([1, 2, 3])
    for (const p of payloads) {
      expect(p.v).toBe(1)
      expect(Math.abs(p.ts - Date.now())).toBeLessThan(60_000)
      expect(p.metrics).toEqual({ temperature_c: 4.2, humidity_pct: 61 })
    }
  })
})

describe('frame reader', () => {
  it('reassembles PUBACKs split across reads and skips other packets', () => {
    const ids: number[] = []
    const reader = new FrameReader((type, buf, start) => {
      if (type === PUBACK) ids.push(buf.readUInt16BE(start))
    })
    const stream = Buffer.from([0x40, 0x02, 0x00, 0x07, 0xd0, 0x00, 0x40, 0x02, 0x01, 0x00])
    for (const cut of [1, 3, 5, 8]) {
      ids.length = 0
      reader.push(stream.subarray(0, cut))
      reader.push(stream.subarray(cut))
      expect(ids).toEqual([7, 256])
    }
  })
})
