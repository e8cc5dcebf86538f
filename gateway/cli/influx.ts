/** `stockyard influx backfill --from T --to T`: send a time range of the store to InfluxDB again. */
import { StockyardError } from '../core/errors.ts'
import { backfill } from '../sink/backfill.ts'
import { createInfluxWriter } from '../sink/influx/index.ts'
import { parseFlags, printJson, requireFlag } from './args.ts'
import { withStore } from './store.ts'

const flags = {
  data: { type: 'string' },
  config: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  url: { type: 'string' },
  database: { type: 'string' },
  bucket: { type: 'string' },
  quiet: { type: 'boolean', default: false },
} as const

/** An ISO 8601 time or epoch milliseconds. */
function timeFlag(value: string, name: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(ms)) throw new StockyardError('request.invalid', `--${name} must be an ISO 8601 time (2026-11-01T00:00Z) or epoch ms, got ${value}`)
  return ms
}

export async function runInflux(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  if (sub !== 'backfill') {
    throw new StockyardError(
      'request.invalid',
      'usage: stockyard influx backfill --from TIME --to TIME [--url U] [--database D | --bucket B] [--config FILE] [--data DIR]',
    )
  }
  const { values } = parseFlags(rest, flags)
  const from = timeFlag(requireFlag(values, 'from'), 'from')
  const to = timeFlag(requireFlag(values, 'to'), 'to')
  await withStore(values.data, values.config, async (store, config) => {
    // The influx section of the config (file, STOCKYARD_INFLUX_*), with the flags on top; it need not be enabled.
    const cfg = {
      ...config.influx,
      ...(values.url !== undefined && { url: values.url }),
      ...(values.database !== undefined && { database: values.database }),
      ...(values.bucket !== undefined && { bucket: values.bucket }),
    }
    const writer = createInfluxWriter(cfg)
    const progress = values.quiet ? undefined : (lane: string, sent: number) => process.stderr.write(`\r${lane}: ${sent} lines sent`)
    const result = await backfill(store.db, { ...config, influx: cfg }, { from, to, writer, progress })
    if (progress) process.stderr.write('\n')
    printJson({ ...result, from: new Date(result.from).toISOString(), to: new Date(result.to).toISOString() })
  })
}
