/**
 * The reference HQ puller: pulls the HQ streams (gateway/http/hq.ts) of many sites, a bounded number
 * at a time, into NDJSON files or an HQ InfluxDB 1.x, so that HQ holds each site's closed windows
 * exactly once after upsert.
 *
 * Durability, per site and stream: rows go to the sink as they stream in. At each checkpoint line
 * (and at the last line) the sink makes what it has durable (NDJSON: append + fsync; InfluxDB: the
 * write is acknowledged), and only THEN is that line's cursor saved (tmp + fsync + rename + fsync of
 * the directory). A crash at any point loses nothing and at worst hands the sink rows it already has,
 * which an upsert by window key keeping the highest revision (or InfluxDB's overwrite of a point with
 * the same series and time) absorbs. Rows after the last checkpoint of a cut stream never move the
 * cursor. The response body is read chunk by chunk and never held whole: memory stays flat.
 *
 * Retry and backoff are this module's (STYLE §2): a sink only writes and throws a `PullError`.
 */
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as delay } from 'node:timers/promises'
import { escape } from '@influxdata/influxdb-client'
import { StockyardError, type ErrorCode } from '../core/errors.ts'
import { backoffMs, describeFetchError, readPrefix } from '../core/http-retry.ts'
import type { LineWriter } from '../sink/types.ts'
import type { HqStream } from './cursor.ts'

/** A site to pull: its name (also its directory under the state dir) and its gateway's HTTP address. */
export interface Site {
  name: string
  url: string
}

/** One row of a stream as parsed from its line (every row names its site). */
export type Row = { site: string } & Record<string, unknown>

/** A failure of a pull; `retryable` ones are tried again with backoff, the others stop the stream. */
export class PullError extends StockyardError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly retryable: boolean,
  ) {
    super(code, message)
  }
}

/**
 * Where one stream of one site goes. Lifecycle: `RowSink.open` -> `add`* with `flush` when `add`
 * asks for it -> `commit` (everything added is durable once it resolves) -> ... -> `close`. Used by
 * one pull at a time; failures are thrown as `PullError`.
 */
export interface StreamSink {
  /** Take one row (its line as received, and parsed); true when the sink would like a `flush` now. */
  add(line: string, row: Row): boolean
  /** Hand buffered rows on (they need not be durable yet). */
  flush(): Promise<void>
  /** Make every row added so far durable. */
  commit(): Promise<void>
  close(): Promise<void>
}

/** A destination for pulled rows: NDJSON files or InfluxDB. */
export interface RowSink {
  readonly describe: string
  open(site: string, stream: HqStream): Promise<StreamSink>
}

/** `rollups/1m` -> `rollups-1m`: the stem of a stream's files. */
export const fileStem = (stream: HqStream): string => stream.replace('/', '-')

/** fsync a directory, so a rename or a new file in it survives a power loss. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}

/** The saved cursors of every site and stream: `DIR/<site>/<stream>.cursor`, one cursor per file. */
export class CursorFiles {
  constructor(readonly dir: string) {}

  path(site: string, stream: HqStream): string {
    return join(this.dir, site, `${fileStem(stream)}.cursor`)
  }

  /** The saved cursor, or undefined when the stream was never pulled (no file). */
  async load(site: string, stream: HqStream): Promise<string | undefined> {
    let text: string
    try {
      text = await readFile(this.path(site, stream), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const cursor = text.trim()
    // Never silently start over: an empty file is not "no cursor".
    if (!cursor) throw new PullError('request.invalid', `${this.path(site, stream)} is empty; delete it to pull ${stream} of ${site} from the start`, false)
    return cursor
  }

  /** Replace the saved cursor durably (tmp + fsync + rename + fsync of the directory). */
  async save(site: string, stream: HqStream, cursor: string): Promise<void> {
    const file = this.path(site, stream)
    const tmp = `${file}.tmp`
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(cursor + '\n')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, file)
    await syncDir(dirname(file))
  }

  /**
   * Take `DIR/<site>/.lock` (our pid) so that two pullers never pull one site into one directory; a
   * lock left by a process that no longer runs (killed) is taken over. Resolves with its release.
   */
  async lock(site: string): Promise<() => Promise<void>> {
    const file = join(this.dir, site, '.lock')
    await mkdir(dirname(file), { recursive: true })
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(file, 'wx')
        await fh.writeFile(String(process.pid))
        await fh.close()
        return () => unlink(file).catch(() => undefined)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        if (attempt > 0) throw new PullError('conflict', `another puller took ${file} just now; run one puller per directory`, false)
      }
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new PullError(
          'conflict',
          `another puller (pid ${pid}) is pulling ${site} into ${this.dir}; stop it first (or remove ${file} if it is not a puller)`,
          false,
        )
      }
      await unlink(file).catch(() => undefined)
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Rows buffered before they are written out (bytes of text). */
const FILE_BUFFER = 256 * 1024

/**
 * NDJSON files: `DIR/<site>/<stream>.ndjson`, each row appended as the line the gateway sent. A file
 * may hold a window (or event) more than once; readers upsert by key keeping the highest revision
 * (see `checkFiles`). A line torn by a crash at the end of a file is cut off when it is opened again.
 */
export class NdjsonFiles implements RowSink {
  readonly describe: string

  constructor(readonly dir: string) {
    this.describe = `ndjson ${dir}`
  }

  path(site: string, stream: HqStream): string {
    return join(this.dir, site, `${fileStem(stream)}.ndjson`)
  }

  async open(site: string, stream: HqStream): Promise<StreamSink> {
    const file = this.path(site, stream)
    await mkdir(dirname(file), { recursive: true })
    const fh = await open(file, 'a+')
    try {
      await cutTornTail(fh)
      await syncDir(dirname(file))
    } catch (err) {
      await fh.close()
      throw err
    }
    let parts: string[] = []
    let bytes = 0
    const flush = async (): Promise<void> => {
      if (parts.length === 0) return
      const text = parts.join('')
      parts = []
      bytes = 0
      await fh.appendFile(text)
    }
    return {
      add(line) {
        parts.push(line + '\n')
        bytes += line.length + 1
        return bytes >= FILE_BUFFER
      },
      flush,
      async commit() {
        await flush()
        await fh.datasync()
      },
      close: () => fh.close(),
    }
  }
}

/** Truncate a file after its last newline: what a crash in the middle of an append leaves is dropped. */
async function cutTornTail(fh: FileHandle): Promise<void> {
  const { size } = await fh.stat()
  let end = size
  const buf = Buffer.alloc(64 * 1024)
  while (end > 0) {
    const start = Math.max(0, end - buf.length)
    const { bytesRead } = await fh.read(buf, 0, end - start, start)
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a)
    if (nl >= 0) {
      if (start + nl + 1 < size) await fh.truncate(start + nl + 1)
      return
    }
    end = start
  }
  if (size > 0) await fh.truncate(0)
}

/** The longest line a pull accepts (a row is a few hundred bytes; anything near this is a broken response). */
const MAX_LINE = 16 * 1024 * 1024

/** Lines sent to InfluxDB in one write. */
const INFLUX_BATCH = 5_000

/** The InfluxDB line of one rollup window: measurement = metric, tags site/zone/device/sku/resolution, time = start. */
export function influxLine(row: Row): string {
  const w = row as unknown as { metric: string; labels: Record<string, string>; resolution: string; start: number } & Record<string, number>
  if (typeof w.metric !== 'string' || typeof w.labels !== 'object' || w.labels === null || !Number.isInteger(w.start)) {
    throw new PullError('internal', `not a rollup window: ${JSON.stringify(row).slice(0, 200)}`, false)
  }
  const tags: Array<[string, unknown]> = [
    ['device', w.labels.device],
    ['resolution', w.resolution],
    ['site', row.site],
    ['sku', w.labels.sku],
    ['zone', w.labels.zone],
  ]
  let line = escape.measurement(w.metric)
  for (const [k, v] of tags) if (typeof v === 'string' && v !== '') line += `,${k}=${escape.tag(v)}`
  return `${line} count=${w.count}i,sum=${w.sum},min=${w.min},max=${w.max},last=${w.last},revision=${w.revision}i ${w.start}`
}

/** An HQ InfluxDB 1.x through the gateway's own v1 writer; rollup streams only. */
export class InfluxRollups implements RowSink {
  readonly describe: string

  constructor(private readonly writer: LineWriter) {
    this.describe = writer.describe
  }

  async open(_site: string, stream: HqStream): Promise<StreamSink> {
    if (!stream.startsWith('rollups/')) throw new PullError('request.invalid', `${stream} cannot go to InfluxDB; pull it --into a directory`, false)
    let lines: string[] = []
    const flush = async (): Promise<void> => {
      if (lines.length === 0) return
      const batch = lines
      lines = []
      const r = await this.writer.write(batch)
      if (r.kind === 'retry') throw new PullError('sink.unavailable', `${this.writer.describe}: ${r.reason}`, true)
      if (r.kind !== 'ok') throw new PullError('sink.unavailable', `${this.writer.describe} refused a batch (${r.kind}): ${r.reason}`, false)
    }
    return {
      add: (_line, row) => lines.push(influxLine(row)) >= INFLUX_BATCH,
      flush,
      commit: flush,
      close: async () => undefined,
    }
  }
}

/** What one stream of one site did in this run. */
export interface StreamReport {
  rows: number
  requests: number
  /** Failed requests that were tried again. */
  retries: number
  error?: { code: ErrorCode; message: string }
}

/** One page of a pull: the rows up to a checkpoint, or up to the last line. */
export interface Progress {
  site: string
  stream: HqStream
  rows: number
  /** Rows of this stream in this run so far. */
  total: number
  ms: number
  /** checkpoint: more of this response follows; more/done: the response ended, and the gateway has (no) more. */
  state: 'checkpoint' | 'more' | 'done'
}

export interface PullerOptions {
  sites: readonly Site[]
  /** A bearer token of role hq (or admin) valid at every site. */
  token: string
  streams: readonly HqStream[]
  sink: RowSink
  cursors: CursorFiles
  /** Sites pulled at once. */
  concurrency: number
  /** Stop once every stream said `more: false` (or failed); otherwise pull again every `intervalMs`. */
  once: boolean
  intervalMs: number
  /** Exponential backoff with full jitter; with `once`, a site gives up after `onceAttempts` failures in a row. */
  retry?: { baseMs: number; maxMs: number; onceAttempts: number }
  /** A request that receives nothing for this long is abandoned (and retried). */
  idleTimeoutMs?: number
  onProgress?: (p: Progress) => void
  /** Retries, stopped streams and the like, one line each. */
  onNotice?: (site: string, message: string) => void
  signal?: AbortSignal
  random?: () => number
  now?: () => number
}

const DEFAULT_RETRY = { baseMs: 500, maxMs: 30_000, onceAttempts: 6 }

/**
 * Pull every stream of every site until done (`once`) or until `signal` aborts. Resolves with a
 * report per site and stream; a stream that failed for good carries its error there.
 * @example
 * const report = await runPuller({ sites: [{ name: 'site-a', url: 'http://10.0.0.5:8080' }], token, streams: ['rollups/1m'],
 *   sink: new NdjsonFiles('/srv/hq'), cursors: new CursorFiles('/srv/hq'), concurrency: 4, once: true, intervalMs: 10_000 })
 */
export async function runPuller(opts: PullerOptions): Promise<Record<string, Record<string, StreamReport>>> {
  const retry = opts.retry ?? DEFAULT_RETRY
  const now = opts.now ?? Date.now
  const random = opts.random ?? Math.random
  const notice = opts.onNotice ?? (() => undefined)
  const report: Record<string, Record<string, StreamReport>> = {}
  const slots = new Semaphore(opts.concurrency)
  const stopped = (): boolean => opts.signal?.aborted === true
  const sleep = (ms: number): Promise<void> => delay(ms, undefined, { signal: opts.signal }).catch(() => undefined)

  const siteLoop = async (site: Site): Promise<void> => {
    const streams = (report[site.name] = Object.fromEntries(opts.streams.map((s) => [s, { rows: 0, requests: 0, retries: 0 } as StreamReport])))
    const live = new Set(opts.streams)
    /** Stop `which` streams for good, with one notice for all of them. */
    const fail = (which: readonly HqStream[], err: unknown): void => {
      const e = err instanceof StockyardError ? err : new StockyardError('internal', (err as Error)?.message ?? String(err))
      for (const s of which) {
        streams[s]!.error = { code: e.code, message: e.message }
        live.delete(s)
      }
      notice(site.name, `${which.length === opts.streams.length ? 'every stream' : which.join(', ')} stopped: ${e.message}`)
    }
    let release: () => Promise<void>
    try {
      release = await opts.cursors.lock(site.name)
    } catch (err) {
      fail(opts.streams, err)
      return
    }
    try {
      let failures = 0
      while (live.size > 0 && !stopped()) {
        const outcome = await slots.run(() => pass(site, live, streams, fail))
        if (stopped() || live.size === 0) break
        if (outcome.error) {
          failures = outcome.progressed ? 1 : failures + 1
          if (outcome.stream) streams[outcome.stream]!.retries++
          if (opts.once && failures >= retry.onceAttempts) {
            fail([...live], new PullError(outcome.error.code, `${outcome.error.message} (gave up after ${failures} attempts)`, false))
            break
          }
          const wait = Math.round(backoffMs(failures, retry.baseMs, retry.maxMs, random))
          notice(site.name, `${outcome.stream ? `${outcome.stream}: ` : ''}${outcome.error.message}; retrying in ${wait} ms`)
          await sleep(wait)
        } else {
          failures = 0
          if (opts.once) break
          await sleep(opts.intervalMs)
        }
      }
    } finally {
      await release()
    }
  }

  /** One pass over the site's live streams, each pulled until the gateway has no more; stops at the first retryable failure. */
  const pass = async (
    site: Site,
    live: Set<HqStream>,
    streams: Record<string, StreamReport>,
    fail: (which: readonly HqStream[], err: unknown) => void,
  ): Promise<{ error?: PullError; stream: HqStream | null; progressed: boolean }> => {
    let progressed = false
    try {
      await checkSite(site)
    } catch (err) {
      if (err instanceof PullError && err.retryable) return { error: err, stream: null, progressed }
      fail([...live], err)
      return { stream: null, progressed }
    }
    for (const stream of [...live]) {
      for (;;) {
        if (stopped()) return { stream, progressed }
        streams[stream]!.requests++
        try {
          const r = await pullOnce(site, stream, streams[stream]!, () => (progressed = true))
          if (!r.more) {
            // Up to date: --once is done with it; a loop pulls it again next pass.
            if (opts.once) live.delete(stream)
            break
          }
        } catch (err) {
          if (stopped()) return { stream, progressed }
          if (err instanceof PullError && err.retryable) return { error: err, stream, progressed }
          fail([stream], err)
          break
        }
      }
    }
    return { stream: null, progressed }
  }

  /** The gateway at `site.url` must be the site of that name (otherwise its rows would be filed under the wrong site). */
  const checkSite = async (site: Site): Promise<void> => {
    const res = await request(site, null, '/api/v1/hq/site', undefined)
    const text = await res.text()
    let got: unknown
    try {
      got = (JSON.parse(text) as { site?: unknown }).site
    } catch {
      throw new PullError('internal', `${site.url}/api/v1/hq/site answered something other than a site descriptor`, false)
    }
    if (got !== site.name) {
      throw new PullError('conflict', `--site ${site.name}=${site.url} points at the gateway of site ${JSON.stringify(got)}; fix the name or the URL`, false)
    }
  }

  /** One request of `stream` from its saved cursor, written through the sink; whether the gateway has more. */
  const pullOnce = async (site: Site, stream: HqStream, rep: StreamReport, onProgress: () => void): Promise<{ more: boolean }> => {
    const saved = await opts.cursors.load(site.name, stream)
    const params = new URLSearchParams({ format: 'ndjson' })
    const [path, res] = stream.startsWith('rollups/') ? ['rollups', stream.slice('rollups/'.length)] : [stream, undefined]
    if (res) params.set('resolution', res)
    if (saved) params.set('cursor', saved)
    const sink = await opts.sink.open(site.name, stream)
    const idle = new AbortController()
    const idleMs = opts.idleTimeoutMs ?? 60_000
    const timer = setTimeout(() => idle.abort(), idleMs)
    try {
      const response = await request(site, stream, `/api/v1/hq/${path}?${params}`, idle.signal)
      if (!response.body) throw new PullError('internal', 'the gateway answered without a body', true)
      const decoder = new TextDecoder()
      let rest = ''
      let cursor = saved
      let rows = 0
      let pageRows = 0
      let pageStart = now()
      const page = async (next: string, state: Progress['state']): Promise<void> => {
        await sink.commit()
        if (next !== cursor) await opts.cursors.save(site.name, stream, next)
        cursor = next
        rep.rows += pageRows
        if (pageRows > 0) onProgress()
        opts.onProgress?.({ site: site.name, stream, rows: pageRows, total: rep.rows, ms: now() - pageStart, state })
        pageRows = 0
        pageStart = now()
      }
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          timer.refresh()
          const text = rest + decoder.decode(chunk, { stream: true })
          let from = 0
          for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
            const line = text.slice(from, nl)
            from = nl + 1
            if (line === '') continue
            const obj = parseLine(line)
            if (typeof obj.next_cursor === 'string') {
              await page(obj.next_cursor, obj.more === true ? 'more' : 'done')
              return { more: obj.more === true }
            }
            if (typeof obj.cursor === 'string' && obj.site === undefined) {
              await page(obj.cursor, 'checkpoint')
              timer.refresh() // time spent writing is not the gateway's silence
              continue
            }
            if (obj.site !== site.name) {
              throw new PullError('conflict', `the gateway sent a row of site ${JSON.stringify(obj.site)} to a pull of ${site.name}`, false)
            }
            rows++
            pageRows++
            if (sink.add(line, obj as Row)) {
              await sink.flush()
              timer.refresh()
            }
          }
          rest = text.slice(from)
          if (rest.length > MAX_LINE) throw new PullError('internal', `the gateway sent a line of over ${MAX_LINE} characters`, true)
        }
      } catch (err) {
        if (err instanceof PullError || opts.signal?.aborted) throw err
        // The disk (a full one clears up, so it is tried again) rather than the network.
        if ((err as NodeJS.ErrnoException).syscall) throw new PullError('store.failed', `cannot write: ${(err as Error).message}`, true)
        const why = idle.signal.aborted ? `no data for ${idleMs / 1000} s` : describeFetchError(err, idleMs)
        throw new PullError('sink.unavailable', `the response broke off after ${rows} rows (${why}); resuming from the last saved cursor`, true)
      }
      throw new PullError('sink.unavailable', `the response was cut after ${rows} rows; resuming from the last saved cursor`, true)
    } finally {
      clearTimeout(timer)
      await sink.close()
    }
  }

  const request = async (site: Site, stream: HqStream | null, path: string, idle: AbortSignal | undefined): Promise<Response> => {
    const url = `${site.url}${path}`
    const signals = [opts.signal, idle ?? AbortSignal.timeout(opts.idleTimeoutMs ?? 60_000)].filter((s): s is AbortSignal => s !== undefined)
    let res: Response
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${opts.token}`, accept: 'application/x-ndjson, application/json', 'accept-encoding': 'gzip' },
        redirect: 'manual',
        signal: AbortSignal.any(signals),
      })
    } catch (err) {
      throw new PullError('sink.unavailable', `cannot reach ${site.url} (${describeFetchError(err, opts.idleTimeoutMs ?? 60_000)})`, true)
    }
    if (res.ok) return res
    throw refusal(res.status, await readPrefix(res, 2000), { stream, cursorFile: stream ? opts.cursors.path(site.name, stream) : '' })
  }

  await Promise.all(opts.sites.map((s) => siteLoop(s)))
  return report
}

/** One line of a pull as JSON; a line that is not an object is a broken response (retried). */
function parseLine(line: string): Record<string, unknown> {
  let obj: unknown
  try {
    obj = JSON.parse(line)
  } catch {
    throw new PullError('internal', `the gateway sent a line that is not JSON: ${line.slice(0, 120)}`, true)
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new PullError('internal', 'the gateway sent a line that is no object', true)
  return obj as Record<string, unknown>
}

/** A gateway's refusal as a PullError that says what to do. */
function refusal(status: number, body: string, at: { stream: HqStream | null; cursorFile: string }): PullError {
  let msg = body.trim().slice(0, 300) || '(no message)'
  try {
    const m = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message
    if (typeof m === 'string') msg = m
  } catch {
    // not the gateway's JSON error: its text as it came
  }
  switch (status) {
    case 400:
      if (!at.stream) return new PullError('request.invalid', `the gateway refused the request (400): ${msg}`, false)
      return new PullError(
        'request.invalid',
        `the gateway refused the request (400): ${msg}. The cursor file ${at.cursorFile} is left as it is and this stream stopped; ` +
          `restore the right cursor, or delete the file to pull the stream from the start (stored rows are upserted, nothing counts twice)`,
        false,
      )
    case 401:
      return new PullError('auth.required', `the gateway refused the token (401): ${msg}`, false)
    case 403:
      return new PullError('auth.forbidden', `${msg}. Pulling needs a token of role hq (stockyard tokens add --role hq, at that gateway)`, false)
    case 404:
      return new PullError('not_found', `the gateway answered 404 (${msg}); is the URL the gateway's HTTP address, and does it have the HQ API?`, false)
    case 410:
      return new PullError(
        'gone',
        `the gateway deleted rows this cursor had not read yet (410): ${msg}. This stream stopped; ${at.cursorFile} is kept. ` +
          `HQ lacks that range: reconcile it another way, then delete the cursor file to pull what the gateway still has`,
        false,
      )
    default:
      return new PullError(
        status >= 500 || status === 429 ? 'sink.unavailable' : 'internal',
        `the gateway answered ${status}: ${msg}`,
        status >= 500 || status === 429,
      )
  }
}

/** At most `n` tasks at a time. */
class Semaphore {
  private free: number
  private readonly waiting: Array<() => void> = []

  constructor(n: number) {
    this.free = Math.max(1, n)
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.free++
    }
  }
}

/** Totals of one resolution over the stored windows, after upsert. */
export interface Totals {
  windows: number
  count: number
  sum: number
}

/** What HQ holds of one site, after upsert: per resolution, and rows of events and alerts. */
export interface SiteTotals {
  rollups: Record<string, Totals>
  events?: { rows: number }
  alerts?: { rows: number }
}

/**
 * Upsert every stream file of `sites` under `dir` (key -> highest revision) and total it: what
 * `stockyard hq pull --check` prints, to set beside each gateway's own totals. A torn last line is skipped.
 */
export async function checkFiles(dir: string, sites: readonly string[], streams: readonly HqStream[]): Promise<Record<string, SiteTotals>> {
  const files = new NdjsonFiles(dir)
  const out: Record<string, SiteTotals> = {}
  for (const site of sites) {
    const totals: SiteTotals = { rollups: {} }
    for (const stream of streams) {
      if (stream.startsWith('rollups/')) {
        const latest = new Map<string, { revision: number; count: number; sum: number }>()
        await eachRow(files.path(site, stream), (r) => {
          const l = r.labels as Record<string, string>
          const key = `${r.metric as string}\0${l.zone}\0${l.device}\0${l.sku}\0${r.start as number}`
          const had = latest.get(key)
          if (!had || (r.revision as number) >= had.revision)
            latest.set(key, { revision: r.revision as number, count: r.count as number, sum: r.sum as number })
        })
        const t = { windows: latest.size, count: 0, sum: 0 }
        const sum = new Neumaier()
        for (const w of latest.values()) {
          t.count += w.count
          sum.add(w.sum)
        }
        t.sum = sum.value()
        totals.rollups[stream.slice('rollups/'.length)] = t
      } else {
        const ids = new Set<unknown>()
        await eachRow(files.path(site, stream), (r) => void ids.add(r.id))
        totals[stream as 'events' | 'alerts'] = { rows: ids.size }
      }
    }
    out[site] = totals
  }
  return out
}

async function eachRow(file: string, fn: (row: Record<string, unknown>) => void): Promise<void> {
  const input = createReadStream(file)
  const missing = new Promise<boolean>((resolve) => {
    input.once('error', (err) => resolve((err as NodeJS.ErrnoException).code === 'ENOENT'))
    input.once('open', () => resolve(false))
  })
  if (await missing) return
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line === '') continue
    try {
      fn(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // the torn last line of a crash; the puller cuts it off when it opens the file again
    }
  }
}

/** Compensated summation, so totals do not depend on the order windows are added in. */
class Neumaier {
  private s = 0
  private c = 0
  add(x: number): void {
    const t = this.s + x
    this.c += Math.abs(this.s) >= Math.abs(x) ? this.s - t + x : x - t + this.s
    this.s = t
  }
  value(): number {
    return this.s + this.c
  }
}

/** The same totals from an HQ InfluxDB 1.x (`influxUrl` without credentials; `auth` a Basic header or ''). */
export async function checkInflux(influxUrl: string, auth: string, database: string, sites: readonly string[]): Promise<Record<string, SiteTotals>> {
  const out: Record<string, SiteTotals> = {}
  for (const site of sites) {
    const q = `SELECT count("count"), sum("count"), sum("sum") FROM /.*/ WHERE "site" = '${site.replace(/['\\]/g, '\\$&')}' GROUP BY "resolution"`
    const res = await fetch(`${influxUrl.replace(/\/+$/, '')}/query`, {
      method: 'POST',
      headers: auth ? { authorization: auth } : {},
      body: new URLSearchParams({ q, db: database }),
      signal: AbortSignal.timeout(60_000),
    })
    const body = (await res.json()) as {
      results?: Array<{ error?: string; series?: Array<{ tags?: Record<string, string>; values: number[][] }> }>
      error?: string
    }
    const err = body.error ?? body.results?.[0]?.error
    if (!res.ok || err) throw new StockyardError('sink.unavailable', `${influxUrl}: ${err ?? `HTTP ${res.status}`}`)
    const rollups: Record<string, Totals> = {}
    const sums: Record<string, Neumaier> = {}
    for (const s of body.results?.[0]?.series ?? []) {
      const res = s.tags?.resolution ?? ''
      const [, windows, count, sum] = s.values[0] ?? []
      const t = (rollups[res] ??= { windows: 0, count: 0, sum: 0 })
      t.windows += windows ?? 0
      t.count += count ?? 0
      ;(sums[res] ??= new Neumaier()).add(sum ?? 0)
    }
    for (const [res, n] of Object.entries(sums)) rollups[res]!.sum = n.value()
    out[site] = { rollups }
  }
  return out
}
