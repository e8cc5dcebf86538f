/**
 * MQTT 3.1.1 behaviour the gateway relies on or promises: client identifiers, session takeover,
 * wills, keep-alive, retained messages. Clause numbers are from the OASIS MQTT 3.1.1 standard.
 */
import { connect as netConnect } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, connectMqtt, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'
import { closedWithin, connackCode, getJson, publishAcked, waitFor, within } from './helpers/e2e.ts'
import { hashSecret } from '../gateway/auth/secrets.ts'
import type { DeviceCredentials } from '../gateway/store/types.ts'

const IDENTIFIER_REJECTED = 2

/** A raw CONNECT for a device, for tests that must control every packet. */
function connectPacket(d: DeviceCredentials, keepalive: number): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: d.id,
    keepalive,
    username: d.username,
    password: Buffer.from(d.password),
  })
}

let gw: TestGateway
let viewer: string

beforeAll(async () => {
  gw = await startTestGateway({
    mqtt: { internalClients: [{ username: 'watcher', passwordHash: await hashSecret('watch'), subscribe: ['stockyard/v1/#'], publish: [] }] },
  })
  viewer = gw.token('viewer')
})
afterAll(() => gw?.dispose())

describe('client identifiers', () => {
  it('refuses a device that connects with another device’s client id (CONNACK 2), so it cannot take over that session', async () => {
    const victim = await gw.addDevice('victim-1')
    const thief = await gw.addDevice('thief-1')
    const victimClient = await connectDevice(gw.ports.mqtt, victim)
    expect(await connackCode(gw.ports.mqtt, { clientId: victim.id, username: thief.username, password: thief.password })).toBe(IDENTIFIER_REJECTED)
    expect(victimClient.connected).toBe(true)
    await victimClient.endAsync()
  })

  it('accepts the device id with a `:suffix`, for a device with two connections', async () => {
    const d = await gw.addDevice('multi-1')
    const c = await connectDevice(gw.ports.mqtt, d, { clientId: `${d.id}:uplink` })
    expect(c.connected).toBe(true)
    await c.endAsync()
  })

  it('[MQTT-3.1.4-2] a second CONNECT with the same client id takes over the first session', async () => {
    const d = await gw.addDevice('takeover-1')
    const first = await connectDevice(gw.ports.mqtt, d)
    const firstClosed = closedWithin(first, 3000)
    const second = await connectDevice(gw.ports.mqtt, d)
    expect(await firstClosed).toBe(true)
    expect(second.connected).toBe(true)
    first.end(true)
    await second.endAsync()
  })
})

describe('wills and device liveness', () => {
  it('publishes a device’s will when its connection drops: stored as a status event, device shown offline', async () => {
    const d = await gw.addDevice('will-1')
    const will = { topic: topicOf('test', d.id, 'status'), payload: Buffer.from(JSON.stringify({ v: 1, state: 'offline' })), qos: 1 as const, retain: false }
    const client = await connectDevice(gw.ports.mqtt, d, { will })
    const online = await getJson<{ devices: Array<{ id: string; status: string }> }>(gw, '/api/v1/devices', viewer)
    expect(online.devices.find((x) => x.id === d.id)?.status).toBe('online')
    // [MQTT-3.1.2-8] the will is published when the network connection closes without DISCONNECT.
    ;(client as unknown as { stream: { destroy(): void } }).stream.destroy()
    expect(await waitFor(() => gw.store.series.countEvents({ kind: 'status', device: d.id }) === 1, 3000)).toBe(true)
    // The registry is updated on the broker thread, the event committed on the worker: either may come first.
    const offline = async (): Promise<boolean> =>
      (await getJson<{ devices: Array<{ id: string; status: string }> }>(gw, '/api/v1/devices', viewer)).devices.find((x) => x.id === d.id)?.status ===
      'offline'
    expect(await waitFor(offline, 3000)).toBe(true)
    client.end(true)
  })

  it('[MQTT-3.1.2-24] closes a connection that stays silent for 1.5 × its keep-alive', async () => {
    const d = await gw.addDevice('silent-1')
    const socket = netConnect(gw.ports.mqtt, '127.0.0.1')
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
    socket.on('error', () => undefined)
    // Read (and drop) the CONNACK; a paused socket would never see the server's FIN as 'close'.
    socket.resume()
    const start = Date.now()
    socket.write(connectPacket(d, 1))
    const closedAt = await within(closed, 5000, 'keep-alive close')
    // Never before one keep-alive period; aedes closes at 1.5 × keepalive.
    expect(closedAt - start).toBeGreaterThanOrEqual(1000)
    expect(closedAt - start).toBeLessThan(3500)
  })
})

describe('retained messages', () => {
  it('[MQTT-3.3.1-6] delivers a device’s retained reading to a later subscriber, and stores it once', async () => {
    const d = await gw.addDevice('retain-1')
    const dev = await connectDevice(gw.ports.mqtt, d)
    const topic = topicOf('test', d.id, 'reading')
    await new Promise<void>((resolve, reject) =>
      dev.publish(topic, JSON.stringify({ v: 1, ts: Date.now(), metrics: { temperature_c: 3.3 }, seq: 1 }), { qos: 1, retain: true }, (e) =>
        e ? reject(e) : resolve(),
      ),
    )
    const watcher = await connectMqtt(gw.ports.mqtt, { clientId: 'watcher-1', username: 'watcher', password: 'watch' })
    const got = new Promise<{ retain: boolean; payload: string }>((resolve) =>
      watcher.on('message', (_t, payload, packet) => resolve({ retain: packet.retain, payload: payload.toString() })),
    )
    await watcher.subscribeAsync(topic, { qos: 1 })
    const msg = await within(got, 3000, 'retained reading')
    expect(msg.retain).toBe(true)
    expect(JSON.parse(msg.payload).metrics.temperature_c).toBe(3.3)
    expect(gw.store.series.countPoints({ device: d.id })).toBe(1)
    await watcher.endAsync()
    await dev.endAsync()
  })

  it('never retains a refused message', async () => {
    const d = await gw.addDevice('retain-bad-1')
    const dev = await connectDevice(gw.ports.mqtt, d)
    const topic = topicOf('test', d.id, 'reading')
    await new Promise<void>((resolve, reject) => dev.publish(topic, 'not json', { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve())))
    await publishAcked(dev, topic, JSON.stringify({ v: 1, ts: Date.now(), metrics: { t: 1 }, seq: 2 }))
    const watcher = await connectMqtt(gw.ports.mqtt, { clientId: 'watcher-2', username: 'watcher', password: 'watch' })
    const payloads: string[] = []
    watcher.on('message', (_t, payload) => payloads.push(payload.toString()))
    await watcher.subscribeAsync(topic, { qos: 1 })
    await new Promise((r) => setTimeout(r, 300))
    expect(payloads).not.toContain('not json')
    await watcher.endAsync()
    await dev.endAsync()
  })
})

describe('QoS 2', () => {
  it('[MQTT-4.3.3-2] stores a QoS 2 message once when its PUBLISH is resent with DUP after a lost PUBREC', async () => {
    const d = await gw.addDevice('qos2-1')
    const socket = netConnect(gw.ports.mqtt, '127.0.0.1')
    socket.on('error', () => undefined)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const received: string[] = []
    const waiters: Array<() => void> = []
    parser.on('packet', (p) => {
      received.push(p.cmd)
      waiters.shift()?.()
    })
    socket.on('data', (b) => parser.parse(b))
    const next = (): Promise<void> => within(new Promise<void>((r) => waiters.push(r)), 3000, 'next packet')
    socket.write(connectPacket(d, 30))
    await next()
    const publish = {
      cmd: 'publish' as const,
      topic: topicOf('test', d.id, 'reading'),
      payload: Buffer.from(JSON.stringify({ v: 1, ts: Date.now(), metrics: { t: 1 } })),
      qos: 2 as const,
      messageId: 7,
      retain: false,
      dup: false,
    }
    socket.write(mqttPacket.generate(publish))
    await next()
    // The PUBREC "was lost": the device resends the same PUBLISH with DUP set.
    socket.write(mqttPacket.generate({ ...publish, dup: true }))
    await next()
    socket.write(mqttPacket.generate({ cmd: 'pubrel', messageId: 7 }))
    await next()
    expect(received).toEqual(['connack', 'pubrec', 'pubrec', 'pubcomp'])
    expect(gw.store.series.countPoints({ device: d.id })).toBe(1)
    socket.destroy()
  })
})

describe('device presence across a restart', () => {
  it('shows a device connected at shutdown as offline after the gateway restarts', async () => {
    const dir = tempDir()
    const first = await startTestGateway({}, dir)
    const d = await first.addDevice('presence-1')
    const client = await connectDevice(first.ports.mqtt, d, { reconnectPeriod: 0 })
    expect(await waitFor(() => first.store.devices.get(d.id)?.status === 'online', 3000)).toBe(true)
    await first.stop()
    client.end(true)
    const second = await startTestGateway({}, dir)
    try {
      expect(second.store.devices.get(d.id)?.status).toBe('offline')
    } finally {
      await second.dispose()
    }
  })
})
