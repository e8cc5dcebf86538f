/**
 * InfluxDB 2.x/3.x/Cloud writer through the official client (`@influxdata/influxdb-client`). Only
 * its transport is used (auth header, gzip, typed HTTP errors): the client's own WriteApi buffers
 * and retries in memory, and here the replicator owns batching and retry over a durable cursor.
 */
import { HttpError, InfluxDB } from '@influxdata/influxdb-client'
import type { Config } from '../../config/schema.ts'
import { describeFetchError } from '../../core/http-retry.ts'
import { classifyStatus, type LineWriter, type WriteResult } from '../types.ts'
import { errorText } from './v1.ts'

export class InfluxV2Writer implements LineWriter {
  readonly describe: string
  private readonly client: InfluxDB
  private readonly path: string

  constructor(private readonly cfg: Config['influx']) {
    this.client = new InfluxDB({ url: cfg.url, token: cfg.token, timeout: cfg.timeoutMs })
    this.path = `/api/v2/write?${new URLSearchParams({ org: cfg.org, bucket: cfg.bucket, precision: 'ms' })}`
    this.describe = `influx-v2 ${cfg.url} org=${cfg.org} bucket=${cfg.bucket}`
  }

  async write(lines: readonly string[]): Promise<WriteResult> {
    try {
      await this.client.transport.request(this.path, lines.join('\n'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        gzipThreshold: 64 * 1024,
      })
      return { kind: 'ok' }
    } catch (err) {
      if (err instanceof HttpError) {
        const reason = `HTTP ${err.statusCode}: ${errorText(err.body ?? err.message)}`
        const after = err.statusCode === 429 || err.statusCode === 503 ? retryAfterOf(err) : undefined
        return classifyStatus(err.statusCode, reason, after)
      }
      return { kind: 'retry', reason: describeFetchError(err, this.cfg.timeoutMs) }
    }
  }

  async close(): Promise<void> {}
}

/** The client's own reading of Retry-After (ms), or undefined when the server sent none. */
function retryAfterOf(err: HttpError): number | undefined {
  const header = err.headers?.['retry-after']
  return header === undefined ? undefined : err.retryAfter()
}
