/**
 * The contract of a series sink: something that takes a batch of InfluxDB line-protocol lines and
 * says what became of it. Batching, retry with backoff, the durable cursor, dead letters and lag are
 * the replicator's job (replicator.ts), written once; a writer only writes and classifies (STYLE §2).
 *
 * Lifecycle: created from config -> `write` any number of times, concurrently -> `close`. `write`
 * never throws: every failure is a `WriteResult`.
 */

export type WriteResult =
  /** Every line is stored. */
  | { kind: 'ok' }
  /** Nothing can be said about the lines (server or network down, overloaded, misconfigured): send the same batch again later. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** The server refused some lines of the batch as bad data (a parse error, a field-type conflict); the others may be stored. */
  | { kind: 'bad_lines'; reason: string }
  /** The request body is too large: send it in smaller parts. */
  | { kind: 'too_large'; reason: string }

export interface LineWriter {
  /** For logs and metrics, e.g. `influx-v1 http://127.0.0.1:8086 db=stockyard`. */
  readonly describe: string
  write(lines: readonly string[]): Promise<WriteResult>
  close(): Promise<void>
}

/** HTTP statuses that mean "this data is bad" rather than "try again": 400 (1.x) and 422 (2.x partial write). */
export function classifyStatus(status: number, reason: string, retryAfterMs: number | undefined): WriteResult {
  if (status === 400 || status === 422) return { kind: 'bad_lines', reason }
  if (status === 413) return { kind: 'too_large', reason }
  // 401/403/404 (credentials, database or bucket missing) are configuration problems, not bad data:
  // retried until someone fixes them, with the reason in the log and the lag growing in /metrics.
  return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs }
}
