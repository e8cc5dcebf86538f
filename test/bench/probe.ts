/**
 * Probes: one device publishes now and then while the generator keeps the broker busy, and a
 * subscriber times what comes back (mqtt.js clients in the bench process, on 127.0.0.1).
 *
 * - `alertProbes` (gateway with rules): publish a reading that crosses the probe rule, time until its
 *   `firing` message arrives on `stockyard/v1/{site}/alerts/…`; publish a clearing reading, time until
 *   `resolved`. Each probe reading is stamped `windowMs + 1` after the previous one (from a past
 *   start, inside the accepted age) so it is alone in the rule's window: fire and clear each decide.
 * - `deliveryProbes` (bare aedes, for scale): publish a reading, time until a subscriber to its topic
 *   receives it.
 * Probes are spaced evenly over `spanMs` with ±30 % jitter (deterministic), never back to back; a wait
 * longer than `timeoutMs` counts as missed and the probe after it still runs. Bounded: no probe starts
 * after `spanMs`, and each ends within four timeouts.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt, { type MqttClient } from 'mqtt'
import type { DeviceIdentity } from '../../simulators/loadgen/types.ts'

/** Nearest-rank percentiles, ms; all zero without samples. */
export interface ProbeLatency {
  p50: number
  p95: number
  p99: number
  max: number
  samples: number
}

export interface ProbeResult {
  /** Publish -> the awaited message. */
  latencyMs: ProbeLatency
  /** alertProbes only: clearing publish -> `resolved`. */
  resolveMs?: ProbeLatency
  sent: number
  missed: number
}

/** Summarise a few hundred samples (nearest rank: the ceil(q n)-th smallest). */
export function summarise(xs: readonly number[]): ProbeLatency {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  const at = (q: number): number => (n ? s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]! : 0)
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: n ? s[n - 1]! : 0, samples: n }
}

export interface ProbePlan {
  port: number
  site: string
  count: number
  /** Spread the probes over this long, starting now. */
  spanMs: number
  timeoutMs: number
}

/** A connected client, or a rejection after 5 s. */
async function connect(port: number, clientId: string, username?: string, password?: string): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId,
    username,
    password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    clean: true,
  })
}

/** Resolves with the arrival time of the first message `match` accepts, or null after `timeoutMs`. */
type Waiter = (match: (topic: string, payload: Buffer) => boolean, timeoutMs: number) => Promise<number | null>

function waiterOn(client: MqttClient): Waiter {
  let pending: { match: (topic: string, payload: Buffer) => boolean; done: (t: number | null) => void } | null = null
  client.on('message', (topic, payload) => {
    const t = performance.now()
    if (pending?.match(topic, payload)) pending.done(t)
  })
  return (match, timeoutMs) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => done(null), timeoutMs)
      const done = (t: number | null): void => {
        clearTimeout(timer)
        pending = null
        resolve(t)
      }
      pending = { match, done }
    })
}

/** Evenly spaced start times (ms from now) with ±30 % jitter from a fixed seed. */
function schedule(count: number, spanMs: number): number[] {
  const step = spanMs / count
  let seed = 0x2545f491
  const rand = (): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0
    return seed / 2 ** 32
  }
  return Array.from({ length: count }, (_, i) => i * step + step * 0.3 * (rand() * 2 - 1) + step * 0.3)
}

/** `{"v":1,"ts":…,"metrics":{metric: value},"seq":…}`: a valid reading. */
function reading(ts: number, metric: string, value: number, seq: number): string {
  return JSON.stringify({ v: 1, ts, metrics: { [metric]: value }, seq })
}

/** `p`, or undefined once `ms` have passed. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

async function closeAll(clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map((c) => (c ? Promise.race([c.endAsync(true), sleep(2000)]) : undefined)))
}

export interface AlertProbeSpec {
  probe: DeviceIdentity
  subscriber: { username: string; password: string }
  rule: string
  metric: string
  fire: number
  clear: number
  windowMs: number
}

/** Two connected clients; `run(plan)` probes while the caller's load runs; `close()` after. */
export async function alertProbes(
  port: number,
  site: string,
  spec: AlertProbeSpec,
): Promise<{ run(plan: ProbePlan): Promise<ProbeResult>; close(): Promise<void> }> {
  let sub: MqttClient | undefined
  let pub: MqttClient | undefined
  try {
    sub = await connect(port, 'bench-alerts', spec.subscriber.username, spec.subscriber.password)
    await sub.subscribeAsync(`stockyard/v1/${site}/alerts/#`, { qos: 1 })
    pub = await connect(port, spec.probe.clientId ?? spec.probe.id, spec.probe.username, spec.probe.password)
  } catch (err) {
    await closeAll([sub, pub])
    throw err
  }
  const [s, p] = [sub, pub]
  const wait = waiterOn(s)
  const topic = `stockyard/v1/${site}/${spec.probe.id}/reading`
  const event = (name: string) => (_t: string, payload: Buffer) => {
    if (payload.length === 0) return false // the empty retained message that follows a resolve
    const body = JSON.parse(payload.toString()) as { event?: string; alert?: { rule?: string } }
    return body.event === name && body.alert?.rule === spec.rule
  }
  return {
    async run(plan) {
      const fired: number[] = []
      const resolved: number[] = []
      // Each reading alone in the rule's window; the last one lands about 10 s in the past.
      let ts = Date.now() - 2 * plan.count * (spec.windowMs + 1) - 10_000
      let seq = 1
      let missed = 0
      let sent = 0
      const t0 = performance.now()
      for (const at of schedule(plan.count, plan.spanMs)) {
        const ahead = at - (performance.now() - t0)
        if (ahead > 0) await sleep(ahead)
        if (performance.now() - t0 > plan.spanMs) break
        sent++
        const firing = wait(event('firing'), plan.timeoutMs)
        const start = performance.now()
        await within(p.publishAsync(topic, reading((ts += spec.windowMs + 1), spec.metric, spec.fire, seq++), { qos: 1 }), plan.timeoutMs)
        const tf = await firing
        if (tf === null) missed++
        else fired.push(tf - start)
        const resolving = wait(event('resolved'), plan.timeoutMs)
        const clearStart = performance.now()
        await within(p.publishAsync(topic, reading((ts += spec.windowMs + 1), spec.metric, spec.clear, seq++), { qos: 1 }), plan.timeoutMs)
        const tr = await resolving
        if (tr === null) missed++
        else resolved.push(tr - clearStart)
      }
      return { latencyMs: summarise(fired), resolveMs: summarise(resolved), sent, missed }
    },
    close: () => closeAll([s, p]),
  }
}

/** Bare broker: a publisher and a subscriber to its topic; publish -> delivery. */
export async function deliveryProbes(
  port: number,
  site: string,
  deviceId: string,
): Promise<{ run(plan: ProbePlan): Promise<ProbeResult>; close(): Promise<void> }> {
  let sub: MqttClient | undefined
  let pub: MqttClient | undefined
  const topic = `stockyard/v1/${site}/${deviceId}/reading`
  try {
    sub = await connect(port, 'bench-probe-sub', 'bench-probe-sub', 'x')
    await sub.subscribeAsync(topic, { qos: 1 })
    pub = await connect(port, deviceId, deviceId, 'x')
  } catch (err) {
    await closeAll([sub, pub])
    throw err
  }
  const [s, p] = [sub, pub]
  const wait = waiterOn(s)
  return {
    async run(plan) {
      const rec: number[] = []
      let missed = 0
      let sent = 0
      const t0 = performance.now()
      for (const at of schedule(plan.count, plan.spanMs)) {
        const ahead = at - (performance.now() - t0)
        if (ahead > 0) await sleep(ahead)
        if (performance.now() - t0 > plan.spanMs) break
        const seq = ++sent
        const body = reading(Date.now(), 'temperature_c', 45, seq)
        const arrived = wait((_t, payload) => payload.toString() === body, plan.timeoutMs)
        const start = performance.now()
        await within(p.publishAsync(topic, body, { qos: 1 }), plan.timeoutMs)
        const t = await arrived
        if (t === null) missed++
        else rec.push(t - start)
      }
      return { latencyMs: summarise(rec), sent, missed }
    },
    close: () => closeAll([s, p]),
  }
}
