/** Helpers for the gateway's background worker threads (replication, analytics). */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Logger } from './log.ts'

/**
 * Lower the calling thread's CPU priority (Linux: setpriority on the thread's own id, from
 * /proc/thread-self), so that under full load the broker and ingest threads win the cores and the
 * background work waits. Returns the error when the OS refused (not Linux, say); the caller logs it.
 */
export function lowerThreadPriority(nice: number): Error | undefined {
  if (nice === 0) return undefined
  try {
    setPriority(threadId(), nice)
    return undefined
  } catch (err) {
    return err as Error
  }
}

function threadId(): number {
  return Number(readlinkSync('/proc/thread-self').split('/').pop())
}

const RESTART_MS = 5000
const MAX_RESTART_MS = 300_000
/** A worker that dies sooner than this after its start counts as dying young. */
const YOUNG_MS = 10_000
const CLOSE_GRACE_MS = 5000

export interface BackgroundWorkerOptions<From> {
  /** The worker's entry module (a .mjs that registers tsx, then imports the TypeScript worker). */
  entry: URL
  workerData: unknown
  /** The worker's environment (default: a copy of the process's). */
  env?: Record<string, string>
  /** What the work is, for the log ('sink worker', 'analytics worker'). */
  name: string
  logger: Pick<Logger, 'error'>
  onMessage(m: From): void
  /** The worker exited while not stopping; it is started again after `restartMs` (doubling, to 5 min, while it keeps dying within 10 s of starting). */
  onCrash?(code: number): void
  restartMs?: number
}

/**
 * A background worker thread owned by the broker thread: started, restarted `restartMs` after it dies
 * (its durable state lets it resume), and stopped with a `{type: 'close'}` message and a grace period
 * before it is terminated. Background work never takes ingest down with it.
 */
export class BackgroundWorker<To extends { type: string }, From> {
  private worker: Worker | undefined
  private stopping = false
  private restartTimer: NodeJS.Timeout | undefined
  private startedAt = 0
  /** Deaths in a row soon after a start: each one after the first doubles the restart delay. */
  private young = 0

  constructor(private readonly opts: BackgroundWorkerOptions<From>) {}

  get alive(): boolean {
    return this.worker !== undefined
  }

  start(): void {
    const { opts } = this
    const worker = new Worker(opts.entry, { workerData: opts.workerData, ...(opts.env ? { env: opts.env } : {}) })
    this.worker = worker
    this.startedAt = Date.now()
    worker.on('message', (m: From) => opts.onMessage(m))
    worker.on('error', (err) => opts.logger.error({ err }, `${opts.name} failed`))
    worker.on('exit', (code) => {
      if (this.worker !== worker) return
      this.worker = undefined
      if (this.stopping) return
      // A worker that cannot even start (a bad data dir, say) is retried ever more slowly, not every 5 s forever.
      this.young = Date.now() - this.startedAt < YOUNG_MS ? this.young + 1 : 0
      const restartInMs = Math.min(MAX_RESTART_MS, (opts.restartMs ?? RESTART_MS) * 2 ** Math.max(0, this.young - 1))
      opts.logger.error({ code, restartInMs }, `${opts.name} exited; it is restarted and resumes from its stored state`)
      opts.onCrash?.(code)
      this.restartTimer = setTimeout(() => this.start(), restartInMs)
      this.restartTimer.unref()
    })
  }

  post(m: To): void {
    this.worker?.postMessage(m)
  }

  /** End the worker as a crash would (it is restarted); for tests and diagnostics. */
  async kill(): Promise<void> {
    const worker = this.worker
    if (!worker) return
    // Resolved once the exit handler above has run (terminate() can settle before it).
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    await worker.terminate()
    await exited
  }

  async stop(): Promise<void> {
    this.stopping = true
    clearTimeout(this.restartTimer)
    const worker = this.worker
    if (!worker) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.postMessage({ type: 'close' })
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)))
    if ((await Promise.race([exited, late])) === 'late') await worker.terminate()
    clearTimeout(timer)
  }
}
