/**
 * `stockyard demo` (what `npm start` runs): the gateway on ./data with a small simulated warehouse.
 * Every simulated device is a real MQTT client over TCP with its own credentials, publishing the
 * core contract: environment readings, shelf-scale weights, scans and heartbeats. The full
 * warehouse simulator (ground truth, faults) is its own piece of work; this keeps `npm start` alive.
 */
import mqtt, { type MqttClient } from 'mqtt'
import { runStart } from '../gateway/cli/start.ts'
import type { Gateway } from '../gateway/gateway.ts'
import type { DeviceKind } from '../gateway/store/types.ts'

interface DemoDevice {
  id: string
  kind: DeviceKind
  zone: string
}

const PLAN: Array<{ kind: DeviceKind; zone: string; prefix: string }> = [
  { kind: 'env', zone: 'cold-room', prefix: 'env-cold' },
  { kind: 'env', zone: 'ambient', prefix: 'env-amb' },
  { kind: 'scale', zone: 'ambient', prefix: 'scale' },
  { kind: 'scanner', zone: 'dock', prefix: 'scanner' },
]

const SKUS = ['SKU-0001', 'SKU-0002', 'SKU-0003', 'SKU-0004']

/** A small deterministic generator so the demo looks the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

async function provision(gw: Gateway, perKind: number): Promise<Array<DemoDevice & { password: string }>> {
  const out: Array<DemoDevice & { password: string }> = []
  for (const p of PLAN) {
    for (let i = 1; i <= perKind; i++) {
      const id = `${p.prefix}-${i}`
      const existing = gw.store.devices.get(id)
      // Passwords are shown once; an existing demo device gets a fresh one.
      const creds = existing ? await gw.store.devices.rotate(id) : await gw.store.devices.add({ id, kind: p.kind, site: gw.config.site, zone: p.zone })
      out.push({ id, kind: p.kind, zone: p.zone, password: creds.password })
    }
  }
  return out
}

function runDevice(gw: Gateway, d: DemoDevice & { password: string }, intervalMs: number, seed: number): MqttClient {
  const base = `stockyard/v1/${gw.config.site}/${d.id}`
  const client = mqtt.connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, {
    clientId: d.id,
    username: d.id,
    password: d.password,
    reconnectPeriod: 2000,
    will: { topic: `${base}/status`, payload: Buffer.from(JSON.stringify({ v: 1, state: 'offline' })), qos: 1, retain: false },
  })
  const rnd = prng(seed)
  let seq = 0
  let tick = 0
  const publish = (kind: string, body: Record<string, unknown>): void => {
    client.publish(`${base}/${kind}`, JSON.stringify({ v: 1, ts: Date.now(), seq: seq++, ...body }), { qos: 1 })
  }
  const timer = setInterval(() => {
    if (!client.connected) return
    tick++
    if (tick % 10 === 1) publish('status', { state: 'online', battery_pct: Math.max(5, 100 - tick / 100), firmware: '1.4.2' })
    switch (d.kind) {
      case 'env': {
        const cold = d.zone === 'cold-room'
        publish('reading', { metrics: { temperature_c: +((cold ? 3.5 : 19) + rnd() * 1.5).toFixed(2), humidity_pct: +(55 + rnd() * 10).toFixed(1) } })
        break
      }
      case 'scale': {
        const sku = SKUS[Math.floor(rnd() * SKUS.length)]!
        publish('reading', { sku, metrics: { weight_kg: +(20 + rnd() * 5).toFixed(3) } })
        break
      }
      case 'scanner': {
        const sku = SKUS[Math.floor(rnd() * SKUS.length)]!
        const event = rnd() < 0.8 ? 'pick' : 'receive'
        publish('scan', { event, sku, qty: event === 'pick' ? 1 + Math.floor(rnd() * 3) : 24, location: `A-${1 + Math.floor(rnd() * 9)}-1` })
        break
      }
      default:
        break
    }
  }, intervalMs)
  client.on('close', () => undefined)
  client.on('error', () => undefined)
  client.once('end', () => clearInterval(timer))
  return client
}

export async function runDemo(argv: string[]): Promise<void> {
  const gw = await runStart(argv)
  const devices = await provision(gw, gw.config.demo.devicesPerKind)
  const viewer = gw.store.tokens.add('viewer', 'demo')
  const clients = devices.map((d, i) => runDevice(gw, d, gw.config.demo.intervalMs, 1000 + i))
  const host = gw.config.host
  process.stdout.write(
    JSON.stringify({
      msg: 'stockyard demo running',
      devices: devices.length,
      mqtt: `mqtt://${host}:${gw.ports.mqtt}`,
      ws: `ws://${host}:${gw.ports.ws}`,
      api: `http://${host}:${gw.ports.http}/api/v1/devices`,
      metrics: `http://${host}:${gw.ports.http}/metrics`,
      viewerToken: viewer.token,
      try: `curl -H 'Authorization: Bearer ${viewer.token}' 'http://${host}:${gw.ports.http}/api/v1/series?metric=temperature_c&step=1m'`,
    }) + '\n',
  )
  const stopClients = (): void => {
    for (const c of clients) c.end(true)
  }
  process.once('SIGTERM', stopClients)
  process.once('SIGINT', stopClients)
}
