/**
 * InfluxDB 1.x writer: `POST /write?db=&rp=&precision=ms` with HTTP basic auth. Also serves the 1.x
 * compatibility endpoint of InfluxDB 2.x/3.x. Written with fetch because the official client speaks
 * only the v2 API; the 1.x write endpoint is one POST.
 */
import type { Config } from '../../config/schema.ts'
import { describeFetchError, readPrefix, retryAfterMs } from '../../core/http-retry.ts'
import { classifyStatus, type LineWriter, type WriteResult } from '../types.ts'

const REASON_CHARS = 500

export class InfluxV1Writer implements LineWriter {
  readonly describe: string
  private readonly writeUrl: string
  private readonly headers: Record<string, string>
  private created = false

  constructor(private readonly cfg: Config['influx']) {
    const base = cfg.url.replace(/\/+$/, '')
    const params = new URLSearchParams({ db: cfg.database, precision: 'ms' })
    if (cfg.retentionPolicy) params.set('rp', cfg.retentionPolicy)
    this.writeUrl = `${base}/write?${params}`
    this.headers = { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'stockyard' }
    if (cfg.username) this.headers.authorization = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}`
    this.describe = `influx-v1 ${base} db=${cfg.database}${cfg.retentionPolicy ? ` rp=${cfg.retentionPolicy}` : ''}`
  }

  async write(lines: readonly string[]): Promise<WriteResult> {
    const first = await this.post(lines)
    // A new server: create the database once, then write again.
    if (first.kind === 'retry' && first.reason.includes('database not found') && this.cfg.createDatabase && !this.created) {
      const made = await this.createDatabase()
      if (made.kind !== 'ok') return made
      this.created = true
      return this.post(lines)
    }
    return first
  }

  async close(): Promise<void> {}

  private async post(lines: readonly string[]): Promise<WriteResult> {
    try {
      const res = await fetch(this.writeUrl, { method: 'POST', headers: this.headers, body: lines.join('\n'), signal: AbortSignal.timeout(this.cfg.timeoutMs) })
      if (res.status === 204 || res.ok) {
        await res.body?.cancel().catch(() => undefined)
        return { kind: 'ok' }
      }
      const reason = `HTTP ${res.status}: ${errorText(await readPrefix(res, REASON_CHARS))}`
      const after = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), Date.now()) : undefined
      return classifyStatus(res.status, reason, after)
    } catch (err) {
      return { kind: 'retry', reason: describeFetchError(err, this.cfg.timeoutMs) }
    }
  }

  private async createDatabase(): Promise<WriteResult> {
    const url = `${this.cfg.url.replace(/\/+$/, '')}/query`
    const body = new URLSearchParams({ q: `CREATE DATABASE "${this.cfg.database.replace(/["\\]/g, '\\$&')}"` })
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
      })
      const text = await readPrefix(res, REASON_CHARS)
      if (res.ok && !text.includes('"error"')) return { kind: 'ok' }
      return { kind: 'retry', reason: `database ${this.cfg.database} not found, and creating it failed: HTTP ${res.status}: ${errorText(text)}` }
    } catch (err) {
      return { kind: 'retry', reason: describeFetchError(err, this.cfg.timeoutMs) }
    }
  }
}

/** InfluxDB answers `{"error":"..."}`; keep the message itself. */
export function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown }
    if (typeof parsed.error === 'string') return parsed.error
    if (typeof parsed.message === 'string') return parsed.message
  } catch {
    // not JSON (or cut short): the text as it came
  }
  return body.trim()
}
