/**
 * End-to-end helpers on top of `gateway.ts`: QoS 1 publishing (one message, or many with a bounded
 * in-flight window), inboxes for topics a client subscribed to, CONNACK codes, child processes with
 * deadlines (mosquitto_pub, the stockyard CLI), and reads of the HTTP API, `/metrics` and the SQLite
 * file itself. Every wait here is bounded.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { IClientOptions, MqttClient } from 'mqtt'
import { matches } from '../../gateway/broker/acl.ts'
import type { DeadLetter, DeviceCredentials } from '../../gateway/store/types.ts'
import { connectMqtt, type TestGateway } from './gateway.ts'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Poll `check` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2000, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() >= deadline) return false
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Reject with `what` when `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Publish at QoS 1 and resolve on the PUBACK (which the gateway sends only after the commit). */
export function publishAcked(client: MqttClient, topic: string, payload: string | Buffer, timeoutMs = 5000): Promise<void> {
  return within(
    client.publishAsync(topic, payload, { qos: 1 }).then(() => undefined),
    timeoutMs,
    `PUBACK for ${topic.slice(0, 80)}`,
  )
}

/**
 * Publish every message at QoS 1 with at most `window` unacknowledged at a time; resolves with the
 * number of PUBACKs once all are acknowledged (rejects on the first failure or after `timeoutMs`).
 */
export function publishAll(client: MqttClient, messages: ReadonlyArray<{ topic: string; payload: string }>, window = 256, timeoutMs = 30_000): Promise<number> {
  let next = 0
  let acked = 0
  const run = new Promise<number>((resolve, reject) => {
    if (messages.length === 0) return resolve(0)
    const send = (): void => {
      const m = messages[next++]!
      client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
        if (err) return reject(err)
        acked++
        if (acked === messages.length) resolve(acked)
        else if (next < messages.length) send()
      })
    }
    for (let i = 0; i < Math.min(window, messages.length); i++) send()
  })
  return within(run, timeoutMs, `PUBACKs for ${messages.length} messages (${acked} so far)`)
}

/** Messages arriving on one topic filter (wildcards allowed), kept in order; `next()` waits (bounded) for the next unread one. */
export class Inbox {
  /** Parsed JSON payloads, in arrival order. */
  readonly messages: Array<Record<string, unknown>> = []
  private read = 0
  private waiter: (() => void) | null = null

  private constructor(
    readonly client: MqttClient,
    readonly topic: string,
  ) {
    client.on('message', (t, payload) => {
      if (!matches(topic, t)) return
      this.messages.push(JSON.parse(payload.toString()) as Record<string, unknown>)
      this.waiter?.()
    })
  }

  /** Subscribe `client` to `topic` at QoS 1; rejects when the subscription is refused (SUBACK 0x80). */
  static async open(client: MqttClient, topic: string): Promise<Inbox> {
    const inbox = new Inbox(client, topic)
    const [code] = await subackCodes(client, topic)
    if (code === undefined || code >= 0x80) throw new Error(`subscription to ${topic} refused (SUBACK ${code})`)
    return inbox
  }

  /** The next message not yet returned, or an error after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Record<string, unknown>> {
    if (this.read < this.messages.length) return this.messages[this.read++]!
    await within(new Promise<void>((resolve) => (this.waiter = resolve)), timeoutMs, `a message on ${this.topic}`).finally(() => (this.waiter = null))
    return this.messages[this.read++]!
  }

  /** Messages not yet returned by `next()`. */
  get unread(): number {
    return this.messages.length - this.read
  }
}

/**
 * The SUBACK return codes for subscribing to `filters` at QoS 1: the granted QoS, or 0x80 (128) for a
 * refused filter. mqtt.js 5 rejects `subscribeAsync` when any code is a failure; the codes are on the error.
 */
export async function subackCodes(client: MqttClient, filters: string | string[]): Promise<number[]> {
  try {
    const granted = await within(client.subscribeAsync(filters, { qos: 1 }), 5000, `SUBACK for ${String(filters)}`)
    return granted.map((g) => g.qos)
  } catch (err) {
    const packet = (err as { packet?: { granted?: unknown } }).packet
    if (packet && Array.isArray(packet.granted)) return packet.granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos))
    throw err
  }
}

/** The CONNACK return code for a CONNECT with `opts`: 0 when accepted (the client is then closed). */
export async function connackCode(port: number, opts: IClientOptions, transport: 'mqtt' | 'ws' = 'mqtt'): Promise<number> {
  try {
    const client = await connectMqtt(port, opts, transport)
    await client.endAsync()
    return 0
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'number') return code
    throw err
  }
}

/** Resolves true once `client`'s connection closes, false if it is still open after `timeoutMs`. */
export function closedWithin(client: MqttClient, timeoutMs: number): Promise<boolean> {
  if (!client.connected) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('close', onClose)
      resolve(false)
    }, timeoutMs)
    const onClose = (): void => {
      clearTimeout(timer)
      resolve(true)
    }
    client.once('close', onClose)
  })
}

export interface ChildResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run a child process to completion, feeding `stdin`; it is killed (and the promise rejected) after `timeoutMs`. */
export function runChild(command: string, args: string[], opts: { stdin?: string; timeoutMs?: number; cwd?: string } = {}): Promise<ChildResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on('error', () => {}) // the child may exit before reading everything; its exit code says why
    child.stdin.end(opts.stdin ?? '')
  })
}

/**
 * `mosquitto_pub -l` as `creds`: one QoS 1 PUBLISH per line of `lines` to `topic`. mosquitto_pub
 * exits 0 only once every line was published and, at QoS 1, acknowledged.
 */
export function mosquittoPubLines(port: number, creds: DeviceCredentials, topic: string, lines: readonly string[], timeoutMs = 15_000): Promise<ChildResult> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-u', creds.username, '-P', creds.password, '-i', creds.id, '-q', '1', '-t', topic, '-l']
  return runChild('mosquitto_pub', args, { stdin: lines.join('\n') + '\n', timeoutMs })
}

/** `node bin/stockyard.mjs …args` from the repository root. */
export function stockyardCli(args: string[], timeoutMs = 15_000): Promise<ChildResult> {
  return runChild(process.execPath, [join(REPO_ROOT, 'bin/stockyard.mjs'), ...args], { timeoutMs })
}

/** GET `path` from the gateway's HTTP API with an optional bearer token. */
export async function httpGet(gw: TestGateway, path: string, token?: string): Promise<{ status: number; body: unknown; text: string }> {
  return httpCall(gw, 'GET', path, token)
}

/** Any method; `json` is sent as the body with its content type. */
export async function httpCall(
  gw: TestGateway,
  method: string,
  path: string,
  token?: string,
  json?: unknown,
): Promise<{ status: number; body: unknown; text: string }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  if (json !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(gw.url(path), {
    method,
    headers,
    ...(json !== undefined && { body: JSON.stringify(json) }),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  let body: unknown = undefined
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, body, text }
}

/** GET a JSON route and fail unless it answers 200. */
export async function getJson<T>(gw: TestGateway, path: string, token: string): Promise<T> {
  const res = await httpGet(gw, path, token)
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.text.slice(0, 300)}`)
  return res.body as T
}

/** The value of one sample in Prometheus text, 0 when the series is absent. Labels must match exactly. */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const got = (m[2] ?? '').split(',').filter(Boolean).sort().join(',')
    if (got === want) return Number(m[3])
  }
  return 0
}

/** Read one sample from the gateway's `/metrics` (through HTTP, with `token`). */
export async function scrapeMetric(gw: TestGateway, token: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await httpGet(gw, '/metrics', token)
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return metricSample(res.text, name, labels)
}

/** Rows of the dead_letters table, read through a separate read-only connection to the gateway's SQLite file. */
export function deadLetterRows(gw: TestGateway, where: { code?: string; device?: string } = {}): DeadLetter[] {
  const db = new Database(join(gw.dataDir, 'stockyard.db'), { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare('SELECT id, at, code, message, device, topic, seq, sample FROM dead_letters ORDER BY id').all() as DeadLetter[]
    return rows.filter((r) => (where.code === undefined || r.code === where.code) && (where.device === undefined || r.device === where.device))
  } finally {
    db.close()
  }
}

/**
 * A device publishing valid readings at a steady pace (QoS 1, unique seq) until `stop()`, which
 * waits (bounded) for the outstanding PUBACKs and reports what was sent and acknowledged.
 */
export function startSteadyPublisher(client: MqttClient, topic: string, intervalMs = 10): { stop(): Promise<{ sent: number; acked: number; failed: number }> } {
  let sent = 0
  let acked = 0
  let failed = 0
  const timer = setInterval(() => {
    const seq = sent++
    const payload = JSON.stringify({ v: 1, ts: Date.now(), seq, metrics: { temperature_c: seq % 40 } })
    client.publish(topic, payload, { qos: 1 }, (err) => (err ? failed++ : acked++))
  }, intervalMs)
  return {
    async stop() {
      clearInterval(timer)
      await waitFor(() => acked + failed === sent, 5000)
      return { sent, acked, failed }
    },
  }
}
