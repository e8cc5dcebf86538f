/**
 * The queries of the Grafana export: a `/api/v1/series` read of a dashboard definition as InfluxQL
 * (InfluxDB 1.x, `influx.protocol: v1`) or Flux (2.x, `v2`) over the measurements the InfluxDB sink
 * writes, and a page variable as the query that lists its values. Pure functions of the definition
 * and the sink's `LineSchema`, so the metric -> measurement mapping is the sink's own, overrides and all.
 */
import type { LineSchema } from '../sink/influx/lines.ts'

/** The labels of a series read that are tags in InfluxDB (gateway/sink/influx/lines.ts). */
export const LABEL_TAGS = ['site', 'zone', 'device', 'sku'] as const
/** Every tag the sink writes, on some measurement: what a page variable can list. */
export const TAG_KEYS: ReadonlySet<string> = new Set([...LABEL_TAGS, 'event', 'status'])

/** `/api/v1/series` aggregates -> InfluxQL functions (Flux has the same names). */
const AGGREGATES: Readonly<Record<string, string>> = { avg: 'mean', min: 'min', max: 'max', sum: 'sum', count: 'count', last: 'last' }

/** A series read of a definition, checked: what the query builders need. */
export interface SeriesRead {
  metric: string
  /** InfluxQL/Flux function of each bucket, e.g. `mean`. */
  fn: string
  /** Bucketed (`step` given) or raw points. */
  bucketed: boolean
  /** Label filters: tag -> the definition's value (a literal, or text with `$variable`s). */
  filters: Array<[tag: string, value: string]>
}

/** Grafana's name of a page variable: `\w` only (Grafana's `$name` syntax stops at `-`). */
export function grafanaVariable(name: string): string {
  return name.replace(/-/g, '_')
}

/** Text with the definition's `$variable`s renamed for Grafana. */
export function withGrafanaVariables(text: string): string {
  return text.replace(/\$([a-z][a-z0-9-]*)/g, (_, name: string) => `$${grafanaVariable(name)}`)
}

/** The series read of a `/api/v1/series` query's params, or why it cannot be exported. */
export function seriesRead(params: Readonly<Record<string, string>>): SeriesRead | { problem: string } {
  const { metric, agg = 'avg', step } = params
  if (!metric) return { problem: 'the series query names no metric' }
  if (metric.includes('$')) return { problem: `the metric ${metric} is a variable; an InfluxDB field must be named in the query` }
  const fn = AGGREGATES[agg]
  if (!fn) return { problem: `agg=${agg} has no InfluxDB equivalent` }
  const known = new Set<string>([...LABEL_TAGS, 'metric', 'agg', 'step', 'from', 'to'])
  const unknown = Object.keys(params).filter((k) => !known.has(k))
  if (unknown.length) return { problem: `parameters ${unknown.join(', ')} have no InfluxDB equivalent` }
  const filters = LABEL_TAGS.filter((t) => params[t] !== undefined && params[t] !== '*').map((t): [string, string] => [t, params[t]!])
  return { metric, fn, bucketed: step !== undefined, filters }
}

/** A Grafana relative time (`now-6h`) for a definition's `-6h`, or undefined when it is not relative. */
export function relativeTime(value: string | undefined): string | undefined {
  if (value === undefined || value === 'now' || value === '0') return undefined
  const m = /^-(\d{1,6})(s|m|h|d|w)$/.exec(value)
  return m ? `now-${m[1]}${m[2]}` : undefined
}

/** A Grafana interval (`5m`) for the definition's `step` (`5m`, `30s` or milliseconds). */
export function grafanaInterval(step: string): string | undefined {
  if (/^\d{1,9}(s|m|h|d)$/.test(step)) return step
  if (/^\d{1,12}$/.test(step)) return `${step}ms`
  if (/^\d{1,12}ms$/.test(step)) return step
  return undefined
}

const hasVariable = (v: string): boolean => /\$[a-z]/.test(v)
const influxqlIdent = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
const influxqlString = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
/** A literal part of an InfluxQL regex: regex metacharacters and `/` escaped. */
const regexLiteral = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
/** `cold-$zone` -> `cold\-$zone`-style regex body: literal text escaped, variables left for Grafana (which escapes their values). */
function regexBody(value: string): string {
  return value
    .split(/(\$[a-z][a-z0-9-]*)/)
    .map((part, i) => (i % 2 === 1 ? `$${grafanaVariable(part.slice(1))}` : regexLiteral(part)))
    .join('')
}

/**
 * InfluxQL for a series read, with Grafana's macros (`$timeFilter`, `$__interval`) and regex matches
 * for variables (Grafana formats a variable's value as an escaped regex, `.*` for All).
 * @example influxql(read, schema) // SELECT mean("temperature_c") FROM "environment" WHERE $timeFilter AND "zone" =~ /^$zone$/ GROUP BY time($__interval), "device" fill(none)
 */
export function influxql(read: SeriesRead, schema: LineSchema): string {
  const measurement = schema.measurementOf(read.metric)
  const field = influxqlIdent(read.metric)
  const where = ['$timeFilter']
  for (const [tag, value] of read.filters) {
    where.push(hasVariable(value) ? `${influxqlIdent(tag)} =~ /^${regexBody(value)}$/` : `${influxqlIdent(tag)} = ${influxqlString(value)}`)
  }
  const select = read.bucketed ? `${read.fn}(${field})` : field
  const groupBy = read.bucketed ? `time($__interval), "device" fill(none)` : `"device"`
  return `SELECT ${select} FROM ${influxqlIdent(measurement)} WHERE ${where.join(' AND ')} GROUP BY ${groupBy}`
}

const fluxString = (s: string): string => JSON.stringify(s)

/**
 * Flux for a series read: Grafana's `v.timeRangeStart`/`v.windowPeriod`, one table per device, a
 * variable matched as `${var}` in a regex.
 */
export function flux(read: SeriesRead, schema: LineSchema, bucket: string): string {
  const measurement = schema.measurementOf(read.metric)
  const lines = [
    `from(bucket: ${fluxString(bucket)})`,
    `  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)`,
    `  |> filter(fn: (r) => r._measurement == ${fluxString(measurement)} and r._field == ${fluxString(read.metric)})`,
  ]
  for (const [tag, value] of read.filters) {
    const body = value
      .split(/(\$[a-z][a-z0-9-]*)/)
      .map((part, i) => (i % 2 === 1 ? `\${${grafanaVariable(part.slice(1))}}` : regexLiteral(part)))
      .join('')
    lines.push(hasVariable(value) ? `  |> filter(fn: (r) => r.${tag} =~ /^${body}$/)` : `  |> filter(fn: (r) => r.${tag} == ${fluxString(value)})`)
  }
  lines.push(`  |> group(columns: ["device"])`)
  if (read.bucketed) lines.push(`  |> aggregateWindow(every: v.windowPeriod, fn: ${read.fn}, createEmpty: false)`)
  lines.push(`  |> yield(name: ${fluxString(read.fn)})`)
  return lines.join('\n')
}

/** InfluxQL listing a tag's values in the measurements a page reads (all measurements when none). */
export function influxqlTagValues(tag: string, measurements: readonly string[]): string {
  const from = measurements.length ? ` FROM ${measurements.map(influxqlIdent).join(', ')}` : ''
  return `SHOW TAG VALUES${from} WITH KEY = ${influxqlIdent(tag)}`
}

/** Flux listing a tag's values (`schema.tagValues`), limited to the measurements a page reads. */
export function fluxTagValues(tag: string, measurements: readonly string[], bucket: string): string {
  const args = [`bucket: ${fluxString(bucket)}`, `tag: ${fluxString(tag)}`]
  if (measurements.length) args.push(`predicate: (r) => ${measurements.map((m) => `r._measurement == ${fluxString(m)}`).join(' or ')}`)
  return `import "influxdata/influxdb/schema"\nschema.tagValues(${args.join(', ')})`
}
