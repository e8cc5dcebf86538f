/**
 * Settle one batch of lines with a sink, the one place that decides what a write result means
 * (STYLE §2): retry with backoff (Retry-After honoured) until the sink answers, and when it refuses
 * bad data, halve the batch until the refused lines are found. Used by the replicator and by backfill.
 */
import { backoffMs } from '../core/http-retry.ts'
import type { LineWriter, WriteResult } from './types.ts'

export interface RefusedLine {
  line: string
  device: string
  reason: string
}

export interface DeliverPolicy {
  retryBaseMs: number
  retryMaxMs: number
  random: () => number
  /** Waits between attempts; rejects to give up (on shutdown). */
  sleep(ms: number): Promise<void>
  /** Told about each failed attempt before the wait. */
  onRetry?(reason: string, delayMs: number): void
  /** Told when a write succeeds (after failures or not). */
  onOk?(): void
}

/**
 * Write `lines` until every line is either stored or refused; returns the refused ones. `first` is
 * the result of a write of `lines` already made, if any.
 */
export async function deliverLines(writer: LineWriter, lines: string[], devices: string[], policy: DeliverPolicy, first?: WriteResult): Promise<RefusedLine[]> {
  let result = first ?? (await writer.write(lines))
  for (let failures = 1; result.kind === 'retry'; failures++) {
    let delay = backoffMs(failures, policy.retryBaseMs, policy.retryMaxMs, policy.random)
    if (result.retryAfterMs !== undefined) delay = Math.min(policy.retryMaxMs, Math.max(delay, result.retryAfterMs))
    policy.onRetry?.(result.reason, delay)
    await policy.sleep(delay)
    result = await writer.write(lines)
  }
  if (result.kind === 'ok') {
    policy.onOk?.()
    return []
  }
  if (lines.length === 1) return [{ line: lines[0]!, device: devices[0]!, reason: result.reason }]
  // InfluxDB 1.x counts what it dropped ("... points beyond retention policy dropped=5000"): when that
  // is every line, all are refused, and halving would only cost 2n - 1 requests to learn it.
  if (Number(/dropped=(\d+)/.exec(result.reason)?.[1]) === lines.length) {
    return lines.map((line, i) => ({ line, device: devices[i]!, reason: result.reason }))
  }
  // Which lines are bad? Halve and try each half: InfluxDB keeps the good points of a partial
  // write, and writing them again changes nothing.
  const mid = lines.length >> 1
  const left = await deliverLines(writer, lines.slice(0, mid), devices.slice(0, mid), policy)
  const right = await deliverLines(writer, lines.slice(mid), devices.slice(mid), policy)
  return [...left, ...right]
}
