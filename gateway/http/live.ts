/**
 * The live feed behind `GET /api/v1/live` (server-sent events), for the dashboards: every alert change
 * as it commits, and a `data` tick when stored data changed (batches committed, by message kind),
 * coalesced to at most one tick per `tickMs`, so a busy site does not turn into a polling storm: a page
 * re-reads only the panels the tick concerns. Bounded: at most `maxClients` streams at once.
 */
import { EventEmitter } from 'node:events'
import type { Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import { StockyardError } from '../core/errors.ts'
import type { AlertNotice } from '../rules/runtime.ts'

export interface LiveEvents {
  alert: [notice: AlertNotice]
  data: [tick: { at: number; kinds: Record<string, number> }]
}

export class LiveFeed extends EventEmitter<LiveEvents> {
  private pending: Record<string, number> = {}
  private timer: NodeJS.Timeout | undefined
  private readonly closing = new AbortController()
  clients = 0

  constructor(private readonly opts: { tickMs: number; maxClients: number; heartbeatMs: number } = { tickMs: 250, maxClients: 100, heartbeatMs: 15_000 }) {
    super()
    this.setMaxListeners(0)
  }

  /** Committed batches by kind; sent as one tick at most every `tickMs`. */
  committed(kinds: Record<string, number>): void {
    for (const [k, n] of Object.entries(kinds)) this.pending[k] = (this.pending[k] ?? 0) + n
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      const kinds = this.pending
      this.pending = {}
      if (Object.keys(kinds).length) this.emit('data', { at: Date.now(), kinds })
    }, this.opts.tickMs)
    this.timer.unref()
  }

  alert(notice: AlertNotice): void {
    this.emit('alert', notice)
  }

  /** An SSE response that forwards the feed until the client goes away. */
  stream(c: Context): Response {
    if (this.closing.signal.aborted) throw new StockyardError('store.failed', 'the gateway is stopping')
    if (this.clients >= this.opts.maxClients) throw new StockyardError('store.failed', `too many live streams (${this.opts.maxClients}); close some dashboards`)
    this.clients++
    return streamSSE(c, async (stream) => {
      let id = 0
      const send = (event: string, data: unknown): void => {
        void stream.writeSSE({ event, data: JSON.stringify(data), id: String(++id) }).catch(() => undefined)
      }
      const onAlert = (n: AlertNotice): void => send('alert', { event: n.event, at: n.at, alert: n.alert })
      const onData = (t: { at: number; kinds: Record<string, number> }): void => send('data', t)
      this.on('alert', onAlert)
      this.on('data', onData)
      send('hello', { at: Date.now() })
      const beat = setInterval(() => send('ping', { at: Date.now() }), this.opts.heartbeatMs)
      try {
        await new Promise<void>((resolve) => {
          stream.onAbort(resolve)
          this.closing.signal.addEventListener('abort', () => resolve(), { once: true })
        })
      } finally {
        clearInterval(beat)
        this.off('alert', onAlert)
        this.off('data', onData)
        this.clients--
      }
    })
  }

  /** End every stream (the gateway is stopping). */
  close(): void {
    clearTimeout(this.timer)
    this.closing.abort()
    this.removeAllListeners()
  }
}
