/**
 * Group commit: messages wait at most `commitIntervalMs` (or until `maxBatch` of them are queued)
 * and are then written in one transaction; each message's callback runs only after that commit,
 * and the broker sends the PUBACK from that callback. So a PUBACK means the message is on disk
 * (in the WAL) and survives kill -9 of the gateway.
 */
import type { Accepted, Rejection } from '../core/records.ts'
import type { CommitStats, IngestBatch } from '../store/types.ts'

export interface Pending {
  accepted?: Accepted
  rejections: Rejection[]
  receivedAt: number
  done: (err: Error | null) => void
}

export interface CommitterHooks {
  write(batch: IngestBatch): CommitStats
  /** After a successful commit, before callbacks run. */
  committed(entries: Pending[], stats: CommitStats, seconds: number): void
  /** The transaction failed: nothing in it was stored; callbacks get the error (no PUBACK). */
  failed(entries: Pending[], err: Error): void
}

export class GroupCommitter {
  private pending: Pending[] = []
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null
  private closed = false

  constructor(
    private readonly opts: { commitIntervalMs: number; maxBatch: number },
    private readonly hooks: CommitterHooks,
  ) {}

  get queued(): number {
    return this.pending.length
  }

  enqueue(entry: Pending): void {
    if (this.closed) {
      entry.done(new Error('gateway is shutting down'))
      return
    }
    this.pending.push(entry)
    if (this.pending.length >= this.opts.maxBatch) this.flush()
    else if (!this.timer) {
      this.timer = this.opts.commitIntervalMs === 0 ? setImmediate(() => this.flush()) : setTimeout(() => this.flush(), this.opts.commitIntervalMs)
    }
  }

  /** Commit everything queued now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout)
      clearImmediate(this.timer as NodeJS.Immediate)
      this.timer = null
    }
    if (this.pending.length === 0) return
    const entries = this.pending
    this.pending = []
    const batch: IngestBatch = { accepted: [], rejections: [] }
    for (const e of entries) {
      if (e.accepted) batch.accepted.push(e.accepted)
      for (const r of e.rejections) batch.rejections.push(r)
    }
    const t0 = process.hrtime.bigint()
    let stats: CommitStats
    try {
      stats = this.hooks.write(batch)
    } catch (err) {
      this.hooks.failed(entries, err as Error)
      for (const e of entries) e.done(err as Error)
      return
    }
    this.hooks.committed(entries, stats, Number(process.hrtime.bigint() - t0) / 1e9)
    for (const e of entries) e.done(null)
  }

  /** Commit what is queued and refuse anything later. */
  close(): void {
    this.flush()
    this.closed = true
  }
}
