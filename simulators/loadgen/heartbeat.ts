/**
 * Many connected devices with heartbeats: one raw socket per device, connected at a bounded
 * concurrency (a connect storm is timed, per connection and as a whole), then one QoS 1 `status`
 * PUBLISH per device every `intervalMs`, paced as one evenly spread total rate (devices / interval)
 * in round-robin, so each device's heartbeats are `intervalMs` apart. State per connection is a
 * socket and a few numbers, so 10,000 of them fit in one process. Single-threaded, like run.ts.
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { CONNACK, FrameReader, PUBACK } from './frames.ts'
import { disconnect, encodeConnect, encodeStatus } from './encode.ts'
import { LatencyRecorder } from './latency.ts'
import type { LoadHooks } from './run.ts'
import type { DeviceIdentity, HeartbeatOptions, HeartbeatResult } from './types.ts'

/** Heartbeats of one device in flight at most; ids cycle 1..IDS. */
const IDS = 8

class HeartbeatConnection {
  readonly socket = new net.Socket()
  /** Write time per packet id (1..IDS); -1 when not in flight. */
  private readonly sentAt = new Float64Array(IDS + 1).fill(-1)
  private nextId = 1
  private seq: number
  private connack: ((rc: number) => void) | null = null
  private readonly bornAt = Date.now()
  sent = 0
  acked = 0
  skipped = 0
  closed = false

  constructor(
    private readonly device: DeviceIdentity,
    private readonly site: string,
    seqStart: number,
    private readonly latency: LatencyRecorder,
  ) {
    this.seq = seqStart
    this.socket.setNoDelay(true)
    const reader = new FrameReader((type, buf, start) => this.frame(type, buf, start))
    this.socket.on('data', (data: Buffer) => reader.push(data))
  }

  get inflight(): number {
    let n = 0
    for (let i = 1; i <= IDS; i++) if (this.sentAt[i]! >= 0) n++
    return n
  }

  /** TCP connect + CONNECT; resolves on CONNACK 0, rejects with the broker's reason or on timeout. */
  connect(host: string, port: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        clearTimeout(timer)
        this.connack = null
        this.closed = true
        this.socket.destroy()
        reject(new Error(`${this.device.id}: ${err.message}`))
      }
      const timer = setTimeout(() => fail(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs)
      this.socket.once('error', fail)
      this.socket.once('close', () => fail(new Error('connection closed before CONNACK')))
      this.connack = (rc) => {
        clearTimeout(timer)
        this.socket.removeAllListeners('error').removeAllListeners('close')
        this.socket.on('error', () => {}) // a late reset shows up as `dropped` and unacked heartbeats
        this.socket.once('close', () => (this.closed = true))
        if (rc === 0) resolve()
        else fail(new Error(`CONNACK refused with code ${rc}`))
      }
      this.socket.connect(port, host, () => {
        const d = this.device
        this.socket.write(encodeConnect(d.clientId ?? d.id, d.username, d.password, 120))
      })
    })
  }

  /** One heartbeat now, unless this device's window is full (then it is counted as skipped). */
  beat(): void {
    if (this.closed) return
    const id = this.nextId
    if (this.sentAt[id]! >= 0) {
      this.skipped++
      return
    }
    this.nextId = id === IDS ? 1 : id + 1
    const now = Date.now()
    const packet = encodeStatus(this.site, this.device.id, id, now, this.seq++, Math.floor((now - this.bornAt) / 1000))
    this.sentAt[id] = performance.now()
    this.socket.write(packet)
    this.sent++
  }

  /** DISCONNECT, end, and wait (bounded) for the close. */
  close(timeoutMs = 3000): Promise<void> {
    return disconnect(this.socket, timeoutMs)
  }

  private frame(type: number, buf: Buffer, start: number): void {
    if (type === PUBACK) {
      const id = buf.readUInt16BE(start)
      const t0 = id <= IDS ? this.sentAt[id]! : -1
      if (t0 < 0) return
      this.sentAt[id] = -1
      this.acked++
      this.latency.record(performance.now() - t0)
    } else if (type === CONNACK && this.connack) {
      const cb = this.connack
      this.connack = null
      cb(buf[start + 1]!)
    }
  }
}

/**
 * Connect every device, send heartbeats for `durationMs`, drain, disconnect. Connection failures
 * are counted (with the first reason), not thrown: the run reports how many devices it held.
 * `hooks.onStart` fires once the connect phase is over, `hooks.onSendEnd` when heartbeats stop.
 */
export async function runHeartbeats(options: HeartbeatOptions, hooks: LoadHooks = {}): Promise<HeartbeatResult> {
  const o = { connectConcurrency: 100, connectTimeoutMs: 30_000, drainMs: 5000, seqStart: 1, ...options }
  if (o.devices.length === 0) throw new Error('loadgen: no devices given')
  if (!(o.intervalMs >= 100)) throw new Error('loadgen: intervalMs must be >= 100')
  if (!(o.durationMs > 0 && o.durationMs <= 3_600_000)) throw new Error('loadgen: durationMs must be in (0, 3600000]')

  const cpu0 = process.cpuUsage()
  const w0 = performance.now()
  const connectLatency = new LatencyRecorder(o.devices.length)
  const latency = new LatencyRecorder(2_000_000)
  const conns = o.devices.map((d) => new HeartbeatConnection(d, o.site, o.seqStart, latency))
  const up: HeartbeatConnection[] = []
  let failed = 0
  let firstError: string | null = null
  let lastConnack = w0
  // Bounded: each worker takes the next connection until none are left; each connect has a timeout.
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < conns.length) {
      const c = conns[next++]!
      const t = performance.now()
      try {
        await c.connect(o.host, o.port, o.connectTimeoutMs)
        lastConnack = performance.now()
        connectLatency.record(lastConnack - t)
        up.push(c)
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(o.connectConcurrency, conns.length) }, worker))
  const connectMs = lastConnack - w0

  hooks.onStart?.()
  const rate = (up.length * 1000) / o.intervalMs
  const t0 = performance.now()
  let scheduled = 0
  let rr = 0
  // Bounded: each iteration sleeps ~5 ms and the loop ends once elapsed >= durationMs.
  while (up.length > 0) {
    const elapsed = performance.now() - t0
    const due = Math.floor((rate * Math.min(elapsed, o.durationMs)) / 1000)
    for (; scheduled < due; scheduled++) {
      up[rr]!.beat()
      rr = rr + 1 === up.length ? 0 : rr + 1
    }
    if (elapsed >= o.durationMs) break
    await sleep(5)
  }
  hooks.onSendEnd?.()
  const deadline = performance.now() + o.drainMs
  while (up.some((c) => !c.closed && c.inflight > 0) && performance.now() < deadline) await sleep(10)
  const dropped = up.filter((c) => c.closed).length
  const cpu = process.cpuUsage(cpu0)
  const wallMs = performance.now() - w0
  for (let i = 0; i < up.length; i += 500) await Promise.all(up.slice(i, i + 500).map((c) => c.close()))
  for (const c of conns) c.socket.destroy()

  const sent = up.reduce((s, c) => s + c.sent, 0)
  const acked = up.reduce((s, c) => s + c.acked, 0)
  return {
    devices: o.devices.length,
    connected: up.length,
    failed,
    firstError,
    connectMs,
    connectLatencyMs: connectLatency.summary(),
    intervalMs: o.intervalMs,
    durationMs: o.durationMs,
    targetRate: rate,
    sent,
    acked,
    unacked: sent - acked,
    skipped: up.reduce((s, c) => s + c.skipped, 0),
    dropped,
    latencyMs: latency.summary(),
    cpuCores: (cpu.user + cpu.system) / 1000 / wallMs,
  }
}
