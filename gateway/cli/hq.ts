/**
 * `stockyard hq pull`: HQ's reference puller (gateway/hq/puller.ts) on the command line. Progress
 * goes to stderr, one line per page; the result (and with --check, the totals) to stdout as JSON.
 */
import { readFileSync } from 'node:fs'
import { ConfigSchema } from '../config/schema.ts'
import { StockyardError, type ErrorCode } from '../core/errors.ts'
import { HQ_STREAMS, type HqStream } from '../hq/cursor.ts'
import { checkFiles, checkInflux, CursorFiles, InfluxRollups, NdjsonFiles, runPuller, type Progress, type RowSink, type Site } from '../hq/puller.ts'
import { parseDuration } from '../rules/duration.ts'
import { InfluxV1Writer } from '../sink/influx/v1.ts'
import { parseFlags, printJson } from './args.ts'

const USAGE = `usage: stockyard hq pull --site NAME=URL [--site NAME=URL …] --token T|--token-file FILE --into DIR [--resolution 1m,1h,1d]
         [--streams rollups,events,alerts] [--concurrency 4] [--once] [--interval 10s] [--check]
       stockyard hq pull … --into http://INFLUX:8086 --state DIR   (rollups into the InfluxDB 1.x database hq)
       stockyard hq pull --check --site NAME [--site NAME …] --into DIR|http://INFLUX:8086
URL is a gateway's HTTP address; the token needs role hq (or admin) at every site: make it once with
'stockyard tokens add --role hq' and give it to the other sites with 'stockyard tokens import --role hq' (stdin). Each site's rows go to
DIR/NAME/<stream>.ndjson and its cursors to DIR/NAME/<stream>.cursor (with InfluxDB, cursors go to --state DIR).
A file may repeat a window: upsert by (site, resolution, metric, labels, start) keeping the highest revision.
--once stops when every stream is up to date; otherwise it pulls again every --interval. --check prints the totals
per site and resolution over the stored windows after upsert (alone it pulls nothing; with --once, after the pull).`

const flags = {
  site: { type: 'string', multiple: true },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  into: { type: 'string' },
  state: { type: 'string' },
  resolution: { type: 'string', default: '1m,1h,1d' },
  streams: { type: 'string' },
  concurrency: { type: 'string', default: '4' },
  once: { type: 'boolean', default: false },
  interval: { type: 'string', default: '10s' },
  check: { type: 'boolean', default: false },
} as const

const SITE_NAME = /^[A-Za-z0-9_-]{1,64}$/
const DATABASE = 'hq'

/** Run `stockyard hq <sub> ...`. */
export async function runHq(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  const usage = (why: string): StockyardError => new StockyardError('request.invalid', `${why}\n${USAGE}`)
  if (sub !== 'pull') throw usage(sub === undefined ? 'hq needs a subcommand' : `unknown subcommand ${sub}`)
  const { values, positionals } = parseFlags(rest, flags)
  if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`)
  const pulling = values.once || !values.check
  const sites = (values.site ?? []).map((s) => siteOf(s, pulling, usage))
  if (sites.length === 0) throw usage('--site is required')
  const dup = sites.find((s, i) => sites.findIndex((o) => o.name === s.name) !== i)
  if (dup) throw usage(`--site ${dup.name} is given twice`)
  if (!values.into) throw usage('--into is required')
  const influx = /^https?:\/\//i.test(values.into) ? influxOf(values.into) : undefined
  const streams = streamsOf(values.streams ?? (influx ? 'rollups' : 'rollups,events,alerts'), values.resolution, usage)
  if (influx && streams.some((s) => !s.startsWith('rollups/'))) throw usage('InfluxDB takes rollups only; pull events and alerts --into a directory')

  const out: Record<string, unknown> = {}
  let failed: StockyardError | undefined
  if (pulling) {
    // A file keeps the token out of `ps`, where every user of the box sees the arguments.
    if (values['token-file'] !== undefined) values.token = readFileSync(values['token-file'], 'utf8').trim()
    if (!values.token) throw usage('--token or --token-file is required to pull')
    const stateDir = influx ? values.state : values.into
    if (!stateDir) throw usage('--state DIR is required with --into http://…: it keeps the cursors')
    if (values.state && !influx) throw usage('--state is for --into http://…; with a directory the cursors live there')
    const concurrency = Number(values.concurrency)
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw usage('--concurrency must be an integer 1-256')
    const interval = parseDuration(values.interval)
    if (!interval.ok || interval.ms <= 0) throw usage(`--interval: ${interval.ok ? 'must be above 0' : interval.message}`)
    const sink: RowSink = influx ? new InfluxRollups(new InfluxV1Writer(influx.config)) : new NdjsonFiles(values.into)
    const result = await pull({ sites, token: values.token, streams, sink, stateDir, concurrency, once: values.once, intervalMs: interval.ms })
    out.pull = result.summary
    failed = result.failed
  }
  if (values.check) {
    const names = sites.map((s) => s.name)
    out.check = influx ? await checkInflux(influx.config.url, influx.auth, DATABASE, names) : await checkFiles(values.into, names, streams)
  }
  printJson(out)
  if (failed) throw failed
}

interface PullArgs {
  sites: Site[]
  token: string
  streams: HqStream[]
  sink: RowSink
  stateDir: string
  concurrency: number
  once: boolean
  intervalMs: number
}

/** Pull until done (--once) or until SIGINT/SIGTERM: the summary, and the error to exit with when a stream stopped. */
async function pull(a: PullArgs): Promise<{ summary: Record<string, unknown>; failed?: StockyardError }> {
  const stop = new AbortController()
  const onSignal = (): void => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const started = Date.now()
  const say = (line: string): boolean => process.stderr.write(`hq pull ${line}\n`)
  const progress = (p: Progress): void => {
    if (p.rows === 0 && !a.once) return
    const rate = p.ms > 0 ? Math.round((p.rows * 1000) / p.ms) : p.rows
    const state = p.state === 'checkpoint' ? 'checkpoint saved' : p.state === 'more' ? 'more to pull' : 'up to date'
    say(`${p.site} ${p.stream}: ${p.rows} rows (${p.total} this run) in ${p.ms} ms, ${rate} rows/s; ${state}`)
  }
  try {
    const report = await runPuller({
      sites: a.sites,
      token: a.token,
      streams: a.streams,
      sink: a.sink,
      cursors: new CursorFiles(a.stateDir),
      concurrency: a.concurrency,
      once: a.once,
      intervalMs: a.intervalMs,
      onProgress: progress,
      onNotice: (site, message) => say(`${site}: ${message}`),
      signal: stop.signal,
    })
    const elapsedMs = Date.now() - started
    let rows = 0
    const problems = new Map<string, { code: ErrorCode; where: string[] }>()
    for (const [site, streams] of Object.entries(report)) {
      for (const [stream, r] of Object.entries(streams)) {
        rows += r.rows
        if (!r.error) continue
        const p = problems.get(r.error.message) ?? { code: r.error.code, where: [] }
        p.where.push(`${site} ${stream}`)
        problems.set(r.error.message, p)
      }
    }
    const summary = {
      sites: report,
      rows,
      elapsedMs,
      rowsPerSec: elapsedMs > 0 ? Math.round((rows * 1000) / elapsedMs) : rows,
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    }
    if (problems.size === 0) return { summary }
    const lines = [...problems].map(([message, p]) => `${p.where.join(', ')}: ${message}`)
    const code = [...problems.values()][0]!.code
    return { summary, failed: new StockyardError(code, `hq pull: ${problems.size === 1 ? lines[0] : `${problems.size} problems:\n  ${lines.join('\n  ')}`}`) }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/** `NAME=URL` (or `NAME` alone for --check without a pull). */
function siteOf(text: string, needUrl: boolean, usage: (why: string) => StockyardError): Site {
  const eq = text.indexOf('=')
  const name = eq < 0 ? text : text.slice(0, eq)
  const raw = eq < 0 ? '' : text.slice(eq + 1)
  if (!SITE_NAME.test(name)) throw usage(`--site ${text}: the name must be a site id (letters, digits, _ and -, at most 64)`)
  if (!raw) {
    if (needUrl) throw usage(`--site ${text}: give NAME=URL, e.g. --site ${name}=http://10.0.0.5:8080`)
    return { name, url: '' }
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw usage(`--site ${text}: ${raw} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--site ${text}: the URL must be http:// or https://`)
  return { name, url: `${url.origin}${url.pathname.replace(/\/+$/, '')}` }
}

/** The streams of `--streams` × `--resolution`, in pull order. */
function streamsOf(streams: string, resolutions: string, usage: (why: string) => StockyardError): HqStream[] {
  const list = (s: string): string[] =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
  const kinds = list(streams)
  const bad = kinds.find((k) => !['rollups', 'events', 'alerts'].includes(k))
  if (bad || kinds.length === 0) throw usage(`--streams: ${bad ?? '(none)'} is not one of rollups, events, alerts`)
  const res = list(resolutions)
  const badRes = res.find((r) => !['1m', '1h', '1d'].includes(r))
  if (badRes || res.length === 0) throw usage(`--resolution: ${badRes ?? '(none)'} is not one of 1m, 1h, 1d`)
  const out = new Set<HqStream>()
  for (const k of kinds) for (const s of k === 'rollups' ? res.map((r) => `rollups/${r}`) : [k]) out.add(s as HqStream)
  return HQ_STREAMS.filter((s) => out.has(s))
}

/** The InfluxDB of `--into http://[user:password@]host:port`: the v1 writer's config (database hq) and the Basic auth header. */
function influxOf(text: string): { config: ReturnType<typeof ConfigSchema.parse>['influx']; auth: string } {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new StockyardError('request.invalid', `--into ${text} is neither a directory nor a URL`)
  }
  const username = decodeURIComponent(url.username)
  const password = decodeURIComponent(url.password)
  url.username = ''
  url.password = ''
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`
  const config = { ...ConfigSchema.parse({}).influx, url: base, database: DATABASE, createDatabase: true, username, password }
  return { config, auth: username ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : '' }
}
