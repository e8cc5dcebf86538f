/**
 * `stockyard influx backfill`: send the points and events of an event-time range from the store to
 * InfluxDB again, e.g. to fill a new InfluxDB server. Independent of the replication cursor (which it
 * neither reads nor moves) and safe while the gateway runs: it reads through its own connection, and
 * InfluxDB overwrites points it already has, so a range sent twice changes nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Database } from 'better-sqlite3'
import type { Config } from '../config/schema.ts'
import { StockyardError } from '../core/errors.ts'
import { deliverLines, type RefusedLine } from './deliver.ts'
import { LineSchema } from './influx/lines.ts'
import { EventSource, PointSource, type LaneName } from './sources.ts'
import type { LineWriter } from './types.ts'

/** Failed attempts in a row after which backfill gives up (the server is down or misconfigured). */
const MAX_FAILURES = 8

export interface BackfillLaneResult {
  /** Lines the server stored. */
  sent: number
  /** Lines the server refused as bad data, with its reason (the first 10). */
  refused: number
  refusals: RefusedLine[]
}

export interface BackfillResult {
  from: number
  to: number
  target: string
  lanes: Record<LaneName, BackfillLaneResult>
  seconds: number
}

export interface BackfillOptions {
  from: number
  to: number
  writer: LineWriter
  progress?: (lane: LaneName, sent: number) => void
}

export async function backfill(db: Database, config: Readonly<Config>, opts: BackfillOptions): Promise<BackfillResult> {
  const { from, to, writer } = opts
  if (!(from < to))
    throw new StockyardError('request.invalid', `--from must be before --to (got ${new Date(from).toISOString()} .. ${new Date(to).toISOString()})`)
  const started = Date.now()
  const schema = new LineSchema(config.influx.measurements)
  const lanes = {} as Record<LaneName, BackfillLaneResult>
  try {
    await sendRange(db, config, opts, schema, lanes)
  } finally {
    await writer.close()
  }
  return { from, to, target: writer.describe, lanes, seconds: (Date.now() - started) / 1000 }
}

/** Each lane's rows in [from, to), in rowid order, through `deliverLines`; results into `lanes`. */
async function sendRange(
  db: Database,
  config: Readonly<Config>,
  opts: BackfillOptions,
  schema: LineSchema,
  lanes: Record<LaneName, BackfillLaneResult>,
): Promise<void> {
  const { from, to, writer } = opts
  for (const source of [new PointSource(db, schema), new EventSource(db, schema)]) {
    const result: BackfillLaneResult = { sent: 0, refused: 0, refusals: [] }
    lanes[source.lane] = result
    const span = source.idRange(from, to)
    if (!span) continue
    let failures = 0
    const policy = {
      retryBaseMs: config.influx.retryBaseMs,
      retryMaxMs: config.influx.retryMaxMs,
      random: Math.random,
      sleep: async (ms: number) => {
        if (++failures > MAX_FAILURES) throw new StockyardError('sink.unavailable', `${writer.describe} failed ${MAX_FAILURES} times in a row: ${lastReason}`)
        await sleep(ms)
      },
      onRetry: (reason: string) => (lastReason = reason),
      onOk: () => (failures = 0),
    }
    let lastReason = ''
    for (let after = span.min - 1; ;) {
      const read = source.read(after, config.influx.batchLines, { from, to, maxId: span.max })
      if (read.lines.length) {
        const refused = await deliverLines(writer, read.lines, read.devices, policy)
        result.sent += read.lines.length - refused.length
        result.refused += refused.length
        result.refusals.push(...refused.slice(0, Math.max(0, 10 - result.refusals.length)))
        opts.progress?.(source.lane, result.sent)
      }
      if (read.rows < config.influx.batchLines) break
      after = read.last
    }
  }
}
