/** Test helpers: a real gateway on 127.0.0.1 ephemeral ports over a temp data dir, and real MQTT clients. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { loadConfig } from '../../gateway/config/load.ts'
import type { ConfigInput } from '../../gateway/config/schema.ts'
import { createLogger } from '../../gateway/core/log.ts'
import { startGateway, type Gateway } from '../../gateway/gateway.ts'
import type { DeviceCredentials, DeviceKind, Role } from '../../gateway/store/types.ts'

export function tempDir(prefix = 'stockyard-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export interface TestGateway extends Gateway {
  dataDir: string
  /** Stop and delete the data dir. */
  dispose(): Promise<void>
  addDevice(id: string, opts?: { kind?: DeviceKind; zone?: string }): Promise<DeviceCredentials>
  token(role: Role): string
  url(path: string): string
}

/** Start a gateway on ephemeral ports; `overrides` is merged into config (site defaults to 'test'). */
export async function startTestGateway(overrides: Record<string, unknown> = {}, dataDir = tempDir()): Promise<TestGateway> {
  const input: Record<string, unknown> = { site: 'test', host: '127.0.0.1', dataDir, ...overrides }
  const mqttIn = (overrides.mqtt ?? {}) as Record<string, unknown>
  input.mqtt = { port: 0, wsPort: 0, ...mqttIn }
  input.http = { port: 0, ...((overrides.http ?? {}) as Record<string, unknown>) }
  input.log ??= { level: process.env.STOCKYARD_TEST_LOG ?? 'silent' }
  input.rules = { dir: fileURLToPath(new URL('../../rules', import.meta.url)), watch: false, ...((overrides.rules ?? {}) as Record<string, unknown>) }
  const config = loadConfig({ overrides: input as ConfigInput as Record<string, unknown> })
  const gw = await startGateway(config, { logger: createLogger(process.env.STOCKYARD_TEST_LOG ?? 'silent') })
  return Object.assign(gw, {
    dataDir,
    async dispose() {
      await gw.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
    addDevice(id: string, opts: { kind?: DeviceKind; zone?: string } = {}) {
      return gw.store.devices.add({ id, kind: opts.kind ?? 'env', site: config.site, zone: opts.zone ?? 'z1' })
    },
    token(role: Role) {
      return gw.store.tokens.add(role).token
    },
    url(path: string) {
      return `http://127.0.0.1:${gw.ports.http}${path}`
    },
  })
}

/** Connect a real mqtt.js client; resolves on CONNACK, rejects with the refusal. */
export function connectMqtt(port: number, opts: IClientOptions = {}, transport: 'mqtt' | 'ws' = 'mqtt'): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`${transport}://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts })
    client.once('connect', () => resolve(client))
    client.once('error', (err) => {
      client.end(true)
      reject(err)
    })
  })
}

/** Connect as a registered device. */
export function connectDevice(port: number, creds: DeviceCredentials, opts: IClientOptions = {}): Promise<MqttClient> {
  return connectMqtt(port, { clientId: creds.id, username: creds.username, password: creds.password, ...opts })
}

/** Topic of a device's message kind on the test site. */
export function topicOf(site: string, deviceId: string, kind: string): string {
  return `stockyard/v1/${site}/${deviceId}/${kind}`
}

/** Collect messages on a topic until `count` arrive or `timeoutMs` passes. */
export function collect(client: MqttClient, topic: string, count: number, timeoutMs = 5000): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const got: Array<Record<string, unknown>> = []
    const timer = setTimeout(() => {
      client.off('message', onMessage)
      resolve(got)
    }, timeoutMs)
    const onMessage = (t: string, payload: Buffer): void => {
      if (t !== topic) return
      got.push(JSON.parse(payload.toString()) as Record<string, unknown>)
      if (got.length >= count) {
        clearTimeout(timer)
        client.off('message', onMessage)
        resolve(got)
      }
    }
    client.on('message', onMessage)
    client.subscribe(topic, { qos: 1 }, (err, granted) => {
      if (err || granted?.[0]?.qos === 128) {
        clearTimeout(timer)
        reject(err ?? new Error(`subscription to ${topic} refused`))
      }
    })
  })
}
