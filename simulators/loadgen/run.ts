/**
 * The load generator's runner: connects one `LoadConnection` per device, then either keeps every
 * window full (`max`) or paces a fixed total rate in small ticks (`rate`) for `durationMs`, waits
 * (bounded) for the last PUBACKs and summarises. Runs in the calling process; the bench uses
 * `runLoadInChild` (fork.ts) so the generator gets a core of its own.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { LoadConnection } from './connection.ts'
import { LatencyRecorder } from './latency.ts'
import type { LoadOptions, LoadResult } from './types.ts'

const MAX_DURATION_MS = 3_600_000

/** Observers of a run (not part of LoadOptions: they do not cross the process boundary). */
export interface LoadHooks {
  /** Every connection has its CONNACK; sending starts now. */
  onStart?: () => void
  /** Sending has stopped; the drain starts now. */
  onSendEnd?: () => void
}

/** Run one load phase against a broker and report what was sent, acknowledged and how fast. */
export async function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  const o = { window: 100, drainMs: 5000, connectTimeoutMs: 5000, chunkSize: 2048, tickMs: 1, seqStart: 1, maxSamples: 2_000_000, ...options }
  if (o.devices.length === 0) throw new Error('loadgen: no devices given (one connection per device)')
  if (!(o.durationMs > 0 && o.durationMs <= MAX_DURATION_MS)) throw new Error(`loadgen: durationMs must be in (0, ${MAX_DURATION_MS}]`)
  if (!(o.window >= 1 && o.window <= 65_535)) throw new Error('loadgen: window must be in [1, 65535]')
  if (o.mode.kind === 'rate' && !(o.mode.msgPerSec > 0)) throw new Error('loadgen: rate mode needs msgPerSec > 0')

  const latency = new LatencyRecorder(o.maxSamples)
  const conns = o.devices.map(
    (device) =>
      new LoadConnection(
        {
          host: o.host,
          port: o.port,
          site: o.site,
          device,
          window: o.window,
          chunkSize: o.chunkSize,
          seqStart: o.seqStart,
          connectTimeoutMs: o.connectTimeoutMs,
        },
        latency,
      ),
  )
  const connected = await Promise.allSettled(conns.map((c) => c.connect()))
  const refused = connected.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (refused) {
    await Promise.all(conns.map((c) => c.close(500)))
    throw refused.reason
  }

  hooks.onStart?.()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let lastAck = t0
  let maxBacklog = 0
  if (o.mode.kind === 'max') {
    let sending = true
    // Refill a window only once an eighth of it is free: fewer, larger writes. A write syscall
    // per PUBACK read was the generator's largest cost at 100k+ msg/s.
    const refill = Math.max(1, Math.floor(o.window / 8))
    for (const c of conns) {
      c.onAcks = () => {
        lastAck = performance.now()
        if (sending && o.window - c.inflight >= refill) c.send(Infinity)
      }
    }
    for (const c of conns) c.send(Infinity)
    await sleep(o.durationMs)
    sending = false
  } else {
    maxBacklog = await paced(conns, o.mode.msgPerSec, o.durationMs, o.tickMs, t0, () => (lastAck = performance.now()))
  }

  hooks.onSendEnd?.()
  // Drain: bounded in time; what is still in flight afterwards is reported as unacked.
  const deadline = performance.now() + o.drainMs
  while (conns.some((c) => c.inflight > 0) && performance.now() < deadline) await sleep(2)
  const t1 = performance.now()
  const cpu = process.cpuUsage(cpu0)
  await Promise.all(conns.map((c) => c.close()))

  const sent = sum(conns, (c) => c.sent)
  const acked = sum(conns, (c) => c.acked)
  const elapsedMs = acked === sent && acked > 0 ? lastAck - t0 : t1 - t0
  // max: acked over start -> last PUBACK. rate: acked over the send phase, which is exactly
  // durationMs (the last PUBACKs can trail by a delayed-ACK timeout; that is latency, not rate).
  const rateOver = o.mode.kind === 'rate' ? o.durationMs : elapsedMs
  return {
    mode: o.mode.kind,
    targetRate: o.mode.kind === 'rate' ? o.mode.msgPerSec : null,
    connections: conns.length,
    window: o.window,
    durationMs: o.durationMs,
    elapsedMs,
    sent,
    acked,
    unacked: sent - acked,
    unexpectedAcks: sum(conns, (c) => c.unexpectedAcks),
    maxBacklog,
    rate: rateOver > 0 ? (acked * 1000) / rateOver : 0,
    latencyMs: latency.summary(),
    cpuCores: (cpu.user + cpu.system) / 1000 / (t1 - t0),
  }
}

/**
 * Fixed total rate: every tick, the messages due since the start (rate x elapsed) are spread
 * round-robin over the connections and sent as far as each window allows; the rest wait for
 * PUBACKs (a backlog). Sending stops at `durationMs`; left-over backlog is dropped, so `sent`
 * below rate x duration means the broker could not keep up. Returns the largest backlog seen.
 */
async function paced(conns: LoadConnection[], rate: number, durationMs: number, tickMs: number, t0: number, acked: () => void): Promise<number> {
  const n = conns.length
  const total = Math.round((rate * durationMs) / 1000)
  const backlog = new Array<number>(n).fill(0)
  let sending = true
  conns.forEach((c, i) => {
    c.onAcks = () => {
      acked()
      if (sending && backlog[i]! > 0) backlog[i]! -= c.send(backlog[i]!)
    }
  })
  let scheduled = 0
  let rr = 0
  let maxBacklog = 0
  // Bounded: each iteration sleeps tickMs and the loop ends once elapsed >= durationMs.
  for (;;) {
    const elapsed = performance.now() - t0
    const due = Math.min(total, Math.floor((rate * elapsed) / 1000))
    const fresh = due - scheduled
    scheduled = due
    const base = Math.floor(fresh / n)
    const extra = fresh - base * n
    for (let k = 0; k < n; k++) backlog[(rr + k) % n]! += base + (k < extra ? 1 : 0)
    rr = (rr + extra) % n
    let behind = 0
    for (let i = 0; i < n; i++) {
      if (backlog[i]! > 0) backlog[i]! -= conns[i]!.send(backlog[i]!)
      behind += backlog[i]!
    }
    if (behind > maxBacklog) maxBacklog = behind
    if (elapsed >= durationMs) break
    await sleep(tickMs)
  }
  sending = false
  return maxBacklog
}

function sum<T>(xs: T[], f: (x: T) => number): number {
  let s = 0
  for (const x of xs) s += f(x)
  return s
}
