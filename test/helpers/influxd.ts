/**
 * Test harness for the time-series servers Stockyard writes to: a real `influxd` (InfluxDB 1.x) and a
 * real `victoria-metrics`, each a child process bound to 127.0.0.1 on free ports over a temp dir.
 *
 * Lifetime: every server is stopped by `dispose()`. As a backstop it runs in a process group of its own
 * under coreutils `timeout` (when present), and a process 'exit' hook SIGKILLs any group still running,
 * so neither a forgotten `dispose()` nor a crashed worker leaves a server behind for long.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

const TIMEOUT_BIN = '/usr/bin/timeout'
/** Upper bound on a server's life (seconds) should every other clean-up fail. */
const LIFETIME_S = 30 * 60
const START_TIMEOUT_MS = 30_000
const STOP_GRACE_MS = 10_000

/** Absolute path of `name` on PATH (or in /usr/bin, /usr/sbin), or undefined. */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin']
  for (const dir of dirs) {
    if (!dir) continue
    const path = join(dir, name)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

/**
 * True if the binary exists; under CI=true a missing binary must make the suite FAIL, not skip.
 * @example describe.skipIf(!requireBinary('influxd'))('InfluxDB sink', () => { … })
 */
export function requireBinary(name: 'influxd' | 'victoria-metrics'): boolean {
  if (findBinary(name)) return true
  const pkg = name === 'influxd' ? 'influxdb' : 'victoria-metrics'
  if (process.env.CI === 'true') throw new Error(`${name} is not installed but CI=true requires it: apt-get install ${pkg} (see .ci/run)`)
  return false
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port from listen(0)'))))
    })
  })
}

// Process groups still running, SIGKILLed when this process exits whatever the reason.
const live = new Set<ChildProcess>()
let exitHookInstalled = false
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    // already gone
  }
}
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => {
      for (const c of live) killGroup(c)
    })
  }
  live.add(child)
  child.once('exit', () => live.delete(child))
}

function running(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null
}

function tail(file: string, chars = 3000): string {
  try {
    const text = readFileSync(file, 'utf8')
    return text.length > chars ? '…' + text.slice(-chars) : text
  } catch {
    return '(no log)'
  }
}

/** One server child: spawned in its own process group, stdout and stderr appended to `logFile`. */
class ServerProcess {
  private child: ChildProcess | undefined

  constructor(
    private readonly what: string,
    private readonly bin: string,
    private readonly args: string[],
    readonly logFile: string,
    /** Resolves true once the server answers its readiness probe. */
    private readonly ready: () => Promise<boolean>,
  ) {}

  get isRunning(): boolean {
    return running(this.child)
  }

  /** Spawn and wait (bounded) until ready; on failure the child is killed and the log tail reported. */
  async start(): Promise<void> {
    if (running(this.child)) return
    const fd = openSync(this.logFile, 'a')
    // Servers read their settings from the environment too (influxd: INFLUXDB_*); keep the caller's out.
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('INFLUXDB_')) env[k] = v
    // --foreground: a SIGTERM sent to `timeout` is forwarded once, to the server only.
    const [file, argv] = existsSync(TIMEOUT_BIN)
      ? [TIMEOUT_BIN, ['--foreground', '-k', '5', String(LIFETIME_S), this.bin, ...this.args]]
      : [this.bin, this.args]
    let child: ChildProcess
    try {
      child = spawn(file, argv, { stdio: ['ignore', fd, fd], detached: true, env })
    } finally {
      closeSync(fd)
    }
    child.unref()
    track(child)
    this.child = child
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 50))])
      if (failed || !running(child)) {
        killGroup(child)
        const why = failed ? failed.message : `exited (code ${child.exitCode}, signal ${child.signalCode})`
        throw new Error(`${this.what} ${why} before it was ready; its log ends:\n${tail(this.logFile)}`)
      }
      if (await this.ready().catch(() => false)) return
      if (Date.now() >= deadline) {
        killGroup(child)
        throw new Error(`${this.what} not ready within ${START_TIMEOUT_MS} ms; its log ends:\n${tail(this.logFile)}`)
      }
    }
  }

  /** SIGTERM, then SIGKILL to the whole group if it has not exited within 10 s. */
  async stop(): Promise<void> {
    const child = this.child
    if (!running(child)) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => killGroup(child), STOP_GRACE_MS)
    try {
      await exited
    } finally {
      clearTimeout(timer)
    }
    killGroup(child) // `timeout` has exited; make sure nothing of its group is left
  }
}

/** GET `url` and say whether it answered `status`. */
async function answers(url: string, status: number): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
  await res.arrayBuffer()
  return res.status === status
}

/** One statement's result from InfluxDB's `/query`. */
/** Start `proc`; if it does not come up, stop it and delete its data dir before rethrowing. */
async function startOrClean(dataDir: string, proc: ServerProcess): Promise<ServerProcess> {
  try {
    await proc.start()
    return proc
  } catch (err) {
    await proc.stop()
    rmSync(dataDir, { recursive: true, force: true })
    throw err
  }
}

export interface InfluxResult {
  series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>
  error?: string
}

export interface Influxd {
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /**
   * InfluxQL over POST /query (with `epoch=ms`, so times are ms numbers); returns the parsed JSON `results`.
   * Throws with the server's error text on an HTTP error and on any statement's `error`.
   */
  query(q: string, db?: string): Promise<InfluxResult[]>
  /** POST /write?db=..&precision=ms raw line protocol; resolves {status, body}. */
  write(db: string, lines: string): Promise<{ status: number; body: string }>
  /** SIGTERM the server, wait for exit (SIGKILL after 10 s). Data dir kept. */
  stop(): Promise<void>
  /** Start again on the SAME port and data dir; resolves when /ping answers 204. */
  start(): Promise<void>
  /** stop + delete the data dir. */
  dispose(): Promise<void>
}

/** The influxd config: everything on 127.0.0.1, everything under `dir`, quiet, no phoning home. */
function influxConfig(dir: string, httpPort: number, rpcPort: number): string {
  const s = (v: string): string => JSON.stringify(v) // a TOML basic string
  return `reporting-enabled = false
bind-address = ${s(`127.0.0.1:${rpcPort}`)}

[meta]
  dir = ${s(join(dir, 'meta'))}
  logging-enabled = false

[data]
  dir = ${s(join(dir, 'data'))}
  wal-dir = ${s(join(dir, 'wal'))}
  wal-fsync-delay = "0s"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = ${s(`127.0.0.1:${httpPort}`)}
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[continuous_queries]
  log-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`
}

/**
 * Start `influxd` on free 127.0.0.1 ports (HTTP and RPC) over a fresh temp dir; resolves once /ping answers 204.
 * @example
 * const influx = await startInfluxd()
 * await influx.query('CREATE DATABASE stockyard')
 * await influx.write('stockyard', 'environment,zone=a temperature_c=4.2 1700000000000')
 */
export async function startInfluxd(): Promise<Influxd> {
  const bin = findBinary('influxd')
  if (!bin) throw new Error('influxd is not installed (apt-get install influxdb)')
  const dataDir = mkdtempSync(join(tmpdir(), 'stockyard-influxd-'))
  const port = await freePort()
  let rpcPort = await freePort()
  while (rpcPort === port) rpcPort = await freePort()
  const configFile = join(dataDir, 'influxd.toml')
  writeFileSync(configFile, influxConfig(dataDir, port, rpcPort))
  const url = `http://127.0.0.1:${port}`
  const proc = await startOrClean(
    dataDir,
    new ServerProcess('influxd', bin, ['run', '-config', configFile], join(dataDir, 'influxd.log'), () => answers(`${url}/ping`, 204)),
  )
  return {
    url,
    port,
    dataDir,
    async query(q, db) {
      const form = new URLSearchParams({ q, epoch: 'ms' })
      if (db !== undefined) form.set('db', db)
      const res = await fetch(`${url}/query`, { method: 'POST', body: form, signal: AbortSignal.timeout(10_000) })
      const text = await res.text()
      let body: { results?: InfluxResult[]; error?: string }
      try {
        body = JSON.parse(text) as typeof body
      } catch {
        throw new Error(`InfluxQL ${q} answered ${res.status}: ${text.slice(0, 500)}`)
      }
      if (!res.ok || body.error) throw new Error(`InfluxQL ${q} answered ${res.status}: ${body.error ?? text.slice(0, 500)}`)
      const results = body.results ?? []
      const failed = results.find((r) => r.error)
      if (failed) throw new Error(`InfluxQL ${q} failed: ${failed.error}`)
      return results
    },
    async write(db, lines) {
      const qs = new URLSearchParams({ db, precision: 'ms' })
      const res = await fetch(`${url}/write?${qs}`, { method: 'POST', body: lines, signal: AbortSignal.timeout(10_000) })
      return { status: res.status, body: await res.text() }
    },
    stop: () => proc.stop(),
    start: () => proc.start(),
    async dispose() {
      await proc.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** One series as `/api/v1/export` prints it. */
export interface ExportedSeries {
  metric: Record<string, string>
  values: number[]
  timestamps: number[]
}

export interface VictoriaMetrics {
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /**
   * All raw samples of series matching a PromQL selector via /api/v1/export (JSON lines), after forcing a
   * flush (/internal/force_flush), over all time; series sorted by their labels.
   */
  exportSeries(match: string): Promise<ExportedSeries[]>
  /** Stop + delete the data dir. */
  dispose(): Promise<void>
}

/**
 * Start `victoria-metrics` on a free 127.0.0.1 port over a fresh temp dir with a 100-year retention
 * (older samples would be dropped); resolves once /health answers 200. `args` are extra flags, e.g.
 * `-dedup.minScrapeInterval=1ms` (without it, a sample written twice is stored twice).
 */
export async function startVictoriaMetrics(opts: { args?: string[] } = {}): Promise<VictoriaMetrics> {
  const bin = findBinary('victoria-metrics')
  if (!bin) throw new Error('victoria-metrics is not installed (apt-get install victoria-metrics)')
  const dataDir = mkdtempSync(join(tmpdir(), 'stockyard-vm-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const args = [
    `-httpListenAddr=127.0.0.1:${port}`,
    `-storageDataPath=${join(dataDir, 'data')}`,
    '-retentionPeriod=100y',
    '-loggerLevel=WARN',
    // Query APIs answer from fresh data: no response cache, no hiding of the last 30 s.
    '-search.disableCache',
    '-search.latencyOffset=0s',
    ...(opts.args ?? []),
  ]
  const proc = await startOrClean(
    dataDir,
    new ServerProcess('victoria-metrics', bin, args, join(dataDir, 'victoria-metrics.log'), () => answers(`${url}/health`, 200)),
  )
  return {
    url,
    port,
    dataDir,
    async exportSeries(match) {
      const flush = await fetch(`${url}/internal/force_flush`, { signal: AbortSignal.timeout(10_000) })
      await flush.arrayBuffer()
      if (!flush.ok) throw new Error(`victoria-metrics /internal/force_flush answered ${flush.status}`)
      // An explicit `end`: the default one leaves out samples of the current second (1.79).
      const end = Math.ceil(Date.now() / 1000) + 3 * 86_400
      const qs = new URLSearchParams({ 'match[]': match, start: '0', end: String(end) })
      const res = await fetch(`${url}/api/v1/export?${qs}`, { signal: AbortSignal.timeout(10_000) })
      const text = await res.text()
      if (!res.ok) throw new Error(`victoria-metrics export of ${match} answered ${res.status}: ${text.slice(0, 500)}`)
      const series = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as ExportedSeries)
      const key = (s: ExportedSeries): string => JSON.stringify(Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      return series.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
    },
    async dispose() {
      await proc.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
