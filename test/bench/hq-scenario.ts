/**
 * The HQ pull scenario of `npm run bench` (issue 9): how fast HQ can pull a day of 1-minute rollups,
 * what that costs the puller in memory, and what a pull does to concurrent ingest.
 *
 * A data dir is seeded straight through SQLite (the schema made by `openSqliteStore`): `series`
 * rows and a closed day (yesterday UTC) of `rollup_1m` windows, 6 readings of 0.1 resolution a
 * minute on a random walk, with `rollup_1h` rows folded from the same readings. A `stockyard start`
 * child (127.0.0.1, ephemeral ports, analytics and Node-RED off, `hq.allowedLatenessMs: 0`) publishes
 * every window at its writer's first flush, before "stockyard ready"; a restart on the same data dir
 * times a start without that.
 *
 * 1. Full pulls: `stockyard hq pull … --once --streams rollups --resolution 1m` into a fresh directory,
 *    then again from its saved cursor (nothing new). /proc is sampled every 20 ms: the puller's VmHWM
 *    and CPU, the gateway's CPU (every thread, and its main thread, which serves HTTP and MQTT), and
 *    `GET /healthz` every 20 ms. The puller's growth per 100k windows, two ways: its peak minus its
 *    peak over the pull from the cursor (the same start-up and code, no rows), and its peak minus its
 *    peak once 100k windows were in (from its progress lines: what grows with the rows). For
 *    comparison, a minimal reader of the bench's own (node:http,
 *    splits lines and counts rows, never buffers, no parsing) pulls the same, plain and gzip, and a
 *    byte-counting TCP proxy shows whether the puller asks for gzip and what it receives.
 * 2. Ingest with a full pull running / none: the same gateway, QoS 1 readings at a fixed rate, ack
 *    p99, runs alternating A B B A; during a B run pulls from scratch run back to back (the puller at
 *    nice 19, as if it ran elsewhere).
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { openSqliteStore } from '../../gateway/store/sqlite/index.ts'
import { REPO_ROOT } from './paths.ts'
import { BoundedProcess, machineBusySeconds, procCpuSeconds } from './proc.ts'
import { num } from './report.ts'
import { fmtRate, measure, spread, WARMUP_MS, type BenchConfig, type RunFigures, type Spread } from './scenarios.ts'
import { provisionGateway, type Provisioned } from './targets/gateway.ts'
import type { Target } from './targets/types.ts'

const run = promisify(execFile)
const CLI = 'bin/stockyard.mjs'
const DAY = 86_400_000
/** Other processes' CPU above which a figure is reported as disturbed (run.ts uses the same bar). */
const DISTURBED_CORES = 0.2
export const HQ_TARGETS = { pullS: 5, mbPer100k: 1, ingestP99Ratio: 1.5 }

export interface HqBenchConfig {
  /** Series seeded, each with a day of 1-minute windows. */
  series: number
  /** Full pulls with the puller (each followed by a pull from its cursor). */
  pullRuns: number
  /** Also pull with the bench's reader (plain and gzip) and through the byte-counting proxy. */
  compare: boolean
  /** Ingest runs per side, alternating. */
  ingestRuns: number
  ingestRate: number
  ingestMs: number
}

/** One pulling process, timed from its spawn to its exit. */
export interface PullRun {
  wallMs: number
  rows: number
  /** VmHWM over the run, MiB. */
  hwmMb: number
  /** VmHWM once the first 100k windows were in (the puller's progress lines), and how many that was; NaN without progress lines. */
  earlyHwmMb: number
  earlyRows: number
  /** GET /healthz every 20 ms during the run: the gateway's HTTP answer time, ms. */
  healthP99Ms: number
  healthMaxMs: number
  cpuCores: number
  gatewayCores: number
  gatewayMainCores: number
  otherCores: number
  /** Reader only: bytes received (as sent) and after decompression. */
  wireBytes?: number
  bodyBytes?: number
}

export interface HqFigures {
  windows: number
  seedMs: number
  /** Spawn -> "stockyard ready": the first start (publishes every window), and a restart. */
  firstReadyMs: number
  againReadyMs: number
  puller: 'cli' | 'reader'
  full: PullRun[]
  resume: PullRun[]
  readerPlain: PullRun | null
  readerGzip: PullRun | null
  proxy: { gzipAsked: boolean; wireBytes: number; requests: number } | null
  ingestBase: RunFigures[]
  ingestPull: RunFigures[]
  /** Pulls started during the B runs, those that finished, and the windows they pulled. */
  loop: { started: number; finished: number; windows: number }
  notes: string[]
}

/** The bench's minimal reader: pages of NDJSON through node:http, lines split and counted, nothing kept. */
const READER = `
const http = require('node:http'), zlib = require('node:zlib')
const [base, token, gzip] = process.argv.slice(1)
let rows = 0, wire = 0, body = 0, requests = 0
const page = (cursor) => new Promise((resolve, reject) => {
  const q = new URLSearchParams({ resolution: '1m', format: 'ndjson', limit: '10000000' })
  if (cursor) q.set('cursor', cursor)
  const headers = { authorization: 'Bearer ' + token, ...(gzip === '1' ? { 'accept-encoding': 'gzip' } : {}) }
  requests++
  http.get(base + '/api/v1/hq/rollups?' + q, { headers }, (res) => {
    if (res.statusCode !== 200) return reject(new Error('HTTP ' + res.statusCode))
    res.on('data', (c) => { wire += c.length })
    const s = res.headers['content-encoding'] === 'gzip' ? res.pipe(zlib.createGunzip()) : res
    let rest = '', last = ''
    s.on('data', (c) => {
      body += c.length
      const text = rest + c.toString()
      let from = 0
      for (let nl = text.indexOf('\\n'); nl !== -1; nl = text.indexOf('\\n', from)) {
        if (text.charCodeAt(from + 2) === 115) rows++ // {"site":…
        else last = text.slice(from, nl)
        from = nl + 1
      }
      rest = text.slice(from)
    })
    s.on('end', () => resolve(JSON.parse(last)))
    s.on('error', reject)
  }).on('error', reject)
})
;(async () => {
  let cursor = ''
  for (;;) { const l = await page(cursor); cursor = l.next_cursor; if (!l.more) break }
  process.stdout.write(JSON.stringify({ rows, wire, body, requests }) + '\\n')
})().catch((e) => { process.stderr.write(String(e) + '\\n'); process.exit(1) })
`

/** Deterministic numbers for the seed (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/**
 * Seed `series` series with a closed day (yesterday UTC) of 1-minute windows and the hours folded
 * from the same readings; the schema comes from the store itself. Returns the windows written.
 */
export function seedRollups(dataDir: string, site: string, series: number): number {
  openSqliteStore({ dataDir, synchronous: 'NORMAL' }).close()
  const db = new Database(join(dataDir, 'stockyard.db'))
  try {
    db.pragma('journal_mode = WAL')
    const day = Math.floor(Date.now() / DAY) * DAY - DAY
    const st = {
      series: db.prepare('INSERT INTO series (id, metric, site, zone, device, sku) VALUES (?, ?, ?, ?, ?, ?)'),
      m1: db.prepare('INSERT INTO rollup_1m (series_id, bucket, count, sum, min, max, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      h1: db.prepare('INSERT INTO rollup_1h (series_id, bucket, count, sum, min, max, last, last_ts, min_id, max_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)'),
    }
    const rnd = prng(9)
    let windows = 0
    db.transaction(() => {
      for (let id = 1; id <= series; id++) {
        // Two metrics per device, the way readings arrive: temperature and humidity.
        const temp = id % 2 === 1
        st.series.run(id, temp ? 'temperature_c' : 'humidity_pct', site, `zone-${Math.ceil(id / 2) % 10}`, `hq-dev-${Math.ceil(id / 2)}`, '')
        let v = temp ? 4 : 60
        for (let h = 0; h < 24; h++) {
          const hour = { count: 0, sum: 0, min: Infinity, max: -Infinity, last: 0, lastTs: 0 }
          for (let m = 0; m < 60; m++) {
            const bucket = day + h * 3_600_000 + m * 60_000
            const w = { count: 0, sum: 0, min: Infinity, max: -Infinity, last: 0, lastTs: 0 }
            for (let r = 0; r < 6; r++) {
              v = Math.round((v + (rnd() - 0.5) * 0.6) * 10) / 10
              const ts = bucket + r * 10_000
              for (const a of [w, hour]) {
                a.count++
                a.sum += v
                a.min = Math.min(a.min, v)
                a.max = Math.max(a.max, v)
                a.last = v
                a.lastTs = ts
              }
            }
            st.m1.run(id, bucket, w.count, w.sum, w.min, w.max, w.last, w.lastTs)
            windows++
          }
          st.h1.run(id, day + h * 3_600_000, hour.count, hour.sum, hour.min, hour.max, hour.last, hour.lastTs)
        }
      }
    })()
    return windows
  } finally {
    db.close()
  }
}

/** A `stockyard start` child and its ports, timed from the spawn. */
interface Launched {
  proc: BoundedProcess
  pid: number
  readyMs: number
  mqtt: number
  http: number
}

/** Spawn `stockyard start` on `dataDir` and wait (bounded) for its ready line. */
async function launch(dataDir: string, configFile: string, site: string): Promise<Launched> {
  const t0 = performance.now()
  const args = [CLI, 'start', '--data', dataDir, '--config', configFile, '--site', site, '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0']
  const proc = new BoundedProcess(process.execPath, [...args, '--log-level', 'info'], { lifetimeS: 900, cwd: REPO_ROOT })
  try {
    const r = await proc.waitForLine((line) => {
      if (!line.includes('stockyard ready')) return undefined
      const v = JSON.parse(line) as { msg?: string; ports?: { mqtt?: number; http?: number } }
      return v.msg === 'stockyard ready' && typeof v.ports?.http === 'number' ? { mqtt: v.ports.mqtt ?? 0, http: v.ports.http } : undefined
    }, 120_000)
    return { proc, pid: proc.pid(), readyMs: performance.now() - t0, ...r }
  } catch (err) {
    await proc.stop(5000)
    throw err
  }
}

/** CPU seconds of one thread (the main thread when `tid` = pid); null if it is gone. Assumes USER_HZ = 100, as on every Linux we run on. */
function threadCpuSeconds(pid: number, tid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) / 100
  } catch {
    return null
  }
}

/** VmHWM (peak RSS) of a process in MiB; null if it is gone. */
function vmHwmMb(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/** GET /healthz on a keep-alive connection every 20 ms (each waits for the last): how long the gateway takes to answer. */
function probeHealth(port: number): { stop(): Promise<{ p99Ms: number; maxMs: number }> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const times: number[] = []
  let stopping = false
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const t = performance.now()
      const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent, timeout: 30_000 }, (res) => {
        res.resume()
        res.on('end', () => {
          times.push(performance.now() - t)
          resolve()
        })
      })
      req.on('timeout', () => req.destroy())
      req.on('error', () => resolve())
    })
  const loop = (async () => {
    while (!stopping) {
      await once()
      await sleep(20)
    }
  })()
  return {
    async stop() {
      stopping = true
      await loop
      agent.destroy()
      const s = times.sort((a, b) => a - b)
      return { p99Ms: s[Math.floor(0.99 * (s.length - 1))] ?? NaN, maxMs: s.at(-1) ?? NaN }
    },
  }
}

/** What a timed child left: its exit, its output and the /proc samples. */
interface ChildRun {
  code: number | null
  stdout: string
  stderr: string
  wallMs: number
  /** [ms since spawn, VmHWM MiB] */
  hwm: Array<[number, number]>
  /** [rows so far, VmHWM MiB] at each progress line of the puller (stderr: "… (N this run) …"). */
  progress: Array<[number, number]>
  health: { p99Ms: number; maxMs: number }
  cpuS: number
  gatewayS: number
  gatewayMainS: number
  machineS: number
}

/** Spawn `node args`, sample it and the gateway every 20 ms until it exits (bounded: killed after `limitMs`). */
async function timedChild(args: string[], gw: { pid: number; http: number }, limitMs = 120_000): Promise<ChildRun> {
  const gatewayPid = gw.pid
  const health = probeHealth(gw.http)
  const gw0 = procCpuSeconds(gatewayPid) ?? 0
  const main0 = threadCpuSeconds(gatewayPid, gatewayPid) ?? 0
  const busy0 = machineBusySeconds()
  const t0 = performance.now()
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: limitMs })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => void (stdout += c.toString()))
  const hwm: Array<[number, number]> = []
  const progress: Array<[number, number]> = []
  child.stderr.on('data', (c: Buffer) => {
    const text = c.toString()
    stderr = (stderr + text).slice(-4000)
    for (const m of text.matchAll(/\((\d+) this run\)/g)) progress.push([Number(m[1]), vmHwmMb(child.pid!) ?? NaN])
  })
  let cpuS = 0
  const sample = (): void => {
    const h = vmHwmMb(child.pid!)
    if (h !== null) hwm.push([performance.now() - t0, h])
    cpuS = procCpuSeconds(child.pid!) ?? cpuS
  }
  const timer = setInterval(sample, 20)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearInterval(timer)
  const wallMs = performance.now() - t0
  return {
    code,
    stdout,
    stderr,
    wallMs,
    hwm,
    progress,
    health: await health.stop(),
    cpuS,
    gatewayS: (procCpuSeconds(gatewayPid) ?? gw0) - gw0,
    gatewayMainS: (threadCpuSeconds(gatewayPid, gatewayPid) ?? main0) - main0,
    machineS: machineBusySeconds() - busy0,
  }
}

/** A TCP proxy to 127.0.0.1:`port` that counts the bytes sent back and sees whether requests ask for gzip. */
async function countingProxy(port: number): Promise<{ port: number; stats: { wireBytes: number; requests: number; gzipAsked: boolean }; close(): void }> {
  const stats = { wireBytes: 0, requests: 0, gzipAsked: false }
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    let head = ''
    client.on('data', (c: Buffer) => {
      head = (head + c.toString('latin1')).slice(-8192)
      for (let i = head.indexOf('\r\n\r\n'); i !== -1; i = head.indexOf('\r\n\r\n')) {
        const req = head.slice(0, i)
        head = head.slice(i + 4)
        if (!/^GET \/api\/v1\/hq\/rollups/.test(req)) continue
        stats.requests++
        if (/^accept-encoding:[^\r\n]*\bgzip\b/im.test(req)) stats.gzipAsked = true
      }
    })
    upstream.on('data', (c: Buffer) => void (stats.wireBytes += c.length))
    client.pipe(upstream).pipe(client)
    const end = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, stats, close: () => void server.close() }
}

/** Rows a pull reports on stdout: the puller's JSON summary (`pull.rows`) or the reader's (`rows`). */
function rowsOf(stdout: string): number {
  try {
    const v = JSON.parse(stdout) as { rows?: number; pull?: { rows?: number } }
    return v.pull?.rows ?? v.rows ?? NaN
  } catch {
    return NaN
  }
}

function figuresOf(c: ChildRun, rows: number): PullRun {
  const s = c.wallMs / 1000
  const hwmMb = Math.max(0, ...c.hwm.map((x) => x[1]))
  const early = c.progress.find((x) => x[0] >= 100_000)
  return {
    wallMs: c.wallMs,
    rows,
    hwmMb,
    earlyHwmMb: early?.[1] ?? NaN,
    earlyRows: early?.[0] ?? NaN,
    healthP99Ms: c.health.p99Ms,
    healthMaxMs: c.health.maxMs,
    cpuCores: c.cpuS / s,
    gatewayCores: c.gatewayS / s,
    gatewayMainCores: c.gatewayMainS / s,
    otherCores: Math.max(0, (c.machineS - c.cpuS - c.gatewayS) / s),
  }
}

/** Seed, start, pull and ingest as the module comment says; the gateway and the temp dirs are gone when it returns. */
export async function hqBench(cfg: BenchConfig, hc: HqBenchConfig, site: string, log: (s: string) => void): Promise<HqFigures> {
  const root = mkdtempSync(join(tmpdir(), 'stockyard-bench-hq-'))
  const f: HqFigures = {
    windows: 0,
    seedMs: 0,
    firstReadyMs: NaN,
    againReadyMs: NaN,
    puller: existsSync(join(REPO_ROOT, 'gateway/cli/hq.ts')) ? 'cli' : 'reader',
    full: [],
    resume: [],
    readerPlain: null,
    readerGzip: null,
    proxy: null,
    ingestBase: [],
    ingestPull: [],
    loop: { started: 0, finished: 0, windows: 0 },
    notes: [],
  }
  let gw: Launched | null = null
  try {
    const dataDir = join(root, 'data')
    const rulesDir = join(root, 'rules')
    mkdirSync(rulesDir)
    const t0 = performance.now()
    f.windows = seedRollups(dataDir, site, hc.series)
    f.seedMs = performance.now() - t0
    log(`  hq: seeded ${f.windows.toLocaleString('en-US')} 1-minute windows (${hc.series} series × 1,440) in ${(f.seedMs / 1000).toFixed(1)} s`)
    const p = await provisionGateway(dataDir, site, cfg.connections)
    if (!p.ok) throw new Error(p.reason)
    const { stdout } = await run(process.execPath, [CLI, 'tokens', 'add', '--role', 'hq', '--name', 'bench-hq', '--data', dataDir], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    })
    const token = (JSON.parse(stdout) as { token: string }).token
    const configFile = join(root, 'config.json')
    const config = { host: '127.0.0.1', analytics: { enabled: false }, nodeRed: { enabled: false }, hq: { allowedLatenessMs: 0 }, rules: { dir: rulesDir } }
    writeFileSync(configFile, JSON.stringify(config, null, 2))

    // The first start publishes every stored window (before "ready"); the restart has nothing to publish.
    gw = await launch(dataDir, configFile, site)
    f.firstReadyMs = gw.readyMs
    const published = await waitForWindows(gw.http, token, dataDir, f.windows)
    await gw.proc.stop(15_000)
    gw = await launch(dataDir, configFile, site)
    f.againReadyMs = gw.readyMs
    log(
      `  hq: ${published.toLocaleString('en-US')} windows published; spawn → ready ${(f.firstReadyMs / 1000).toFixed(2)} s on the first start, ` +
        `${(f.againReadyMs / 1000).toFixed(2)} s on a restart`,
    )
    const url = `http://127.0.0.1:${gw.http}`
    const pullArgs = (out: string, base = url): string[] =>
      f.puller === 'cli'
        ? [CLI, 'hq', 'pull', '--site', `${site}=${base}`, '--token', token, '--into', out, '--once', '--streams', 'rollups', '--resolution', '1m']
        : ['-e', READER, base, token, '0']

    // 1. Full pulls, each followed by a pull from the cursor it saved.
    for (let i = 0; i < hc.pullRuns; i++) {
      const out = join(root, `pull-${i}`)
      const expected = countWindows(dataDir)
      const full = await timedChild(pullArgs(out), gw)
      if (full.code !== 0 && f.puller === 'cli') {
        // Every run with the reader then, so the figures never mix the two.
        f.notes.push(`\`stockyard hq pull\` exited with ${full.code} (${firstLine(full.stderr)}): the bench's reader pulled instead, in every run`)
        log(`  hq: stockyard hq pull failed (${firstLine(full.stderr)}); pulling with the bench's reader instead`)
        rmSync(out, { recursive: true, force: true })
        f.puller = 'reader'
        f.full = []
        f.resume = []
        i = -1
        continue
      }
      const resume = f.puller === 'cli' ? await timedChild(pullArgs(out), gw) : null
      rmSync(out, { recursive: true, force: true })
      const rows = rowsOf(full.stdout)
      if (rows !== expected) f.notes.push(`pull ${i + 1}: ${rows} rows where the gateway had ${expected} windows`)
      const r = figuresOf(full, rows)
      f.full.push(r)
      if (resume) f.resume.push(figuresOf(resume, rowsOf(resume.stdout)))
      log(
        `  hq: pull ${i + 1}/${hc.pullRuns}: ${rows.toLocaleString('en-US')} windows in ${(r.wallMs / 1000).toFixed(2)} s (${fmtRate((rows * 1000) / r.wallMs)}/s), ` +
          `puller peak ${r.hwmMb.toFixed(0)} MiB${resume ? `; from its cursor ${(resume.wallMs / 1000).toFixed(2)} s, ${rowsOf(resume.stdout)} rows, peak ${figuresOf(resume, 0).hwmMb.toFixed(0)} MiB` : ''}; ` +
          `puller ${r.cpuCores.toFixed(2)} cores, gateway ${r.gatewayCores.toFixed(2)} (main thread ${r.gatewayMainCores.toFixed(2)}), other ${r.otherCores.toFixed(2)}; ` +
          `/healthz p99 ${r.healthP99Ms.toFixed(1)} ms, max ${r.healthMaxMs.toFixed(0)} ms`,
      )
    }

    // The gateway alone: the bench's reader, plain and gzip; what the puller itself asks for and gets.
    const reader = async (gzip: boolean): Promise<PullRun> => {
      const c = await timedChild(['-e', READER, url, token, gzip ? '1' : '0'], gw!)
      if (c.code !== 0) throw new Error(`the bench's reader failed: ${firstLine(c.stderr)}`)
      const v = JSON.parse(c.stdout) as { rows: number; wire: number; body: number }
      const r = { ...figuresOf(c, v.rows), wireBytes: v.wire, bodyBytes: v.body }
      log(
        `  hq: the bench's reader${gzip ? ', gzip' : ''}: ${v.rows.toLocaleString('en-US')} windows in ${(c.wallMs / 1000).toFixed(2)} s, ` +
          `${(v.wire / 1e6).toFixed(1)} MB on the wire (${(v.body / 1e6).toFixed(1)} MB of NDJSON), gateway ${r.gatewayCores.toFixed(2)} cores (main ${r.gatewayMainCores.toFixed(2)}), /healthz max ${r.healthMaxMs.toFixed(0)} ms`,
      )
      return r
    }
    f.readerPlain = await reader(false)
    if (hc.compare) {
      f.readerGzip = await reader(true)
      if (f.puller === 'cli') {
        const proxy = await countingProxy(gw.http)
        try {
          const out = join(root, 'pull-proxied')
          const c = await timedChild(pullArgs(out, `http://127.0.0.1:${proxy.port}`), gw)
          rmSync(out, { recursive: true, force: true })
          f.proxy = { ...proxy.stats }
          log(
            `  hq: the puller through a counting proxy: gzip asked ${proxy.stats.gzipAsked}, ${(proxy.stats.wireBytes / 1e6).toFixed(1)} MB received, exit ${c.code}`,
          )
        } finally {
          proxy.close()
        }
      }
    }

    // 2. Ingest with pulls running back to back / none.
    if (hc.ingestRuns > 0) {
      const target = asTarget(gw, site, p.provisioned)
      const w = await measure(target, cfg, { kind: 'rate', msgPerSec: hc.ingestRate }, WARMUP_MS)
      log(`  hq: ingest warm-up (not recorded) ack p99 ${w.load.latencyMs.p99.toFixed(2)} ms`)
      for (let i = 0; i < 2 * hc.ingestRuns; i++) {
        const withPull = !(i % 4 === 0 || i % 4 === 3) // A B B A …
        const loop = withPull ? pullLoop(() => pullArgs(join(root, `loop-${f.loop.started}`)), f.loop, root) : null
        // Let the first pull get past its start-up, so the whole send phase runs under a pull.
        if (loop) await sleep(1500)
        let cpu0 = 0
        const r = await measure(target, cfg, { kind: 'rate', msgPerSec: hc.ingestRate }, hc.ingestMs, { onStart: () => void (cpu0 = loop?.cpuS() ?? 0) })
        if (loop) {
          const pullerCores = (loop.cpuS() - cpu0) / (hc.ingestMs / 1000)
          r.otherCpuCores = Math.max(0, r.otherCpuCores - pullerCores)
          await loop.stop()
        }
        ;(withPull ? f.ingestPull : f.ingestBase).push(r)
        const l = r.load.latencyMs
        log(
          `  hq: ${withPull ? 'pulling' : 'no pull '}: ${fmtRate(r.load.rate)} msg/s: ack p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms; ` +
            `gateway ${r.brokerCpuCores.toFixed(2)} cores, unacked ${r.load.unacked}, other ${r.otherCpuCores.toFixed(2)} cores`,
        )
      }
    }
  } finally {
    await gw?.proc.stop(15_000)
    rmSync(root, { recursive: true, force: true })
  }
  return f
}

/** Poll the pull API (hq token) until windows show, then count them read-only; the count of 1m windows published. */
async function waitForWindows(httpPort: number, token: string, dataDir: string, want: number): Promise<number> {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/hq/rollups?resolution=1m&limit=1`, { headers: { authorization: `Bearer ${token}` } })
    const body = (await res.json()) as { rows?: unknown[] }
    if (!res.ok) throw new Error(`GET /api/v1/hq/rollups answered ${res.status}: ${JSON.stringify(body).slice(0, 200)}`)
    if (body.rows?.length) {
      const n = countWindows(dataDir)
      if (n >= want) return n
    }
    await sleep(200)
  }
  throw new Error(`the gateway had not published ${want} windows after 120 s`)
}

/** The 1m windows in the export log, through a read-only connection of our own. */
function countWindows(dataDir: string): number {
  const db = new Database(join(dataDir, 'stockyard.db'), { readonly: true })
  try {
    return db.prepare(`SELECT count(*) FROM hq_windows WHERE res = '1m'`).pluck().get() as number
  } finally {
    db.close()
  }
}

/** Pulls from scratch (a fresh directory each), back to back until `stop()`; their CPU is sampled every 50 ms. */
function pullLoop(args: () => string[], tally: HqFigures['loop'], root: string): { cpuS(): number; stop(): Promise<void> } {
  let stopping = false
  let current: ReturnType<typeof spawn> | null = null
  let done = 0
  let live = 0
  const timer = setInterval(() => {
    if (current?.pid) live = procCpuSeconds(current.pid) ?? live
  }, 50)
  const loop = (async () => {
    while (!stopping) {
      const a = args()
      const out = a[a.indexOf('--into') + 1]
      tally.started++
      // At nice 19: HQ pulls from elsewhere, so the puller takes only the CPU the gateway and the generator leave.
      const child = spawn('nice', ['-n', '19', process.execPath, ...a], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 })
      current = child
      let stdout = ''
      child.stdout!.on('data', (c: Buffer) => void (stdout += c.toString()))
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
      done += live
      live = 0
      current = null
      if (out && out.startsWith(root)) rmSync(out, { recursive: true, force: true })
      if (code === 0 && !stopping) {
        tally.finished++
        tally.windows += rowsOf(stdout) || 0
      }
    }
  })()
  return {
    cpuS: () => done + live,
    async stop() {
      stopping = true
      current?.kill('SIGTERM')
      await loop
      clearInterval(timer)
    },
  }
}

function asTarget(l: Launched, site: string, p: Provisioned): Target {
  return {
    name: 'gateway',
    label: 'gateway (HQ pull)',
    port: l.mqtt,
    pid: l.pid,
    site,
    devices: p.devices,
    http: { port: l.http, token: p.token },
    counters: () => Promise.resolve(null),
    stop: () => l.proc.stop(15_000),
  }
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .find((x) => x.trim())
      ?.trim()
      .slice(0, 300) ?? ''
  )
}

/** The section's markdown: the pull table, the gateway-alone table, the ingest table, targets and notes. */
export function renderHq(f: HqFigures, hc: HqBenchConfig): string[] {
  const cell = (s: Spread, d: number): string => (!s.runs ? '–' : s.runs > 1 ? `${num(s.median, d)} (${num(s.min, d)}–${num(s.max, d)})` : num(s.median, d))
  const of = (runs: PullRun[], pick: (r: PullRun) => number): Spread => spread(runs.map(pick).filter((x) => Number.isFinite(x)))
  const mb = (b: number | undefined): string => (b === undefined ? '–' : `${num(b / 1e6, 1)} MB (${num(b / f.windows, 0)} B/window)`)
  const who = f.puller === 'cli' ? '`stockyard hq pull`' : "the bench's minimal reader (`stockyard hq pull` was not available)"
  const verdict = (ok: boolean): string => (ok ? '**PASS**' : '**FAIL**')
  const MIB_PER_MB = 1e6 / 2 ** 20
  // Growth, per 100k windows: (1) the peak over the peak of the pull from the cursor (the same start-up, no rows);
  // (2) the peak over the peak once the first 100k windows were in (the puller's progress lines): what grows with the rows.
  const base = f.resume.length ? spread(f.resume.map((r) => r.hwmMb)).median : NaN
  const total = of(f.full, (r) => ((r.hwmMb - base) / r.rows) * 100_000)
  const steady = of(f.full, (r) => ((r.hwmMb - r.earlyHwmMb) / (r.rows - r.earlyRows)) * 100_000)
  const wall = of(f.full, (r) => r.wallMs / 1000)
  const row = (figure: string, runs: PullRun[], pick: (r: PullRun) => number, d: number, target = ''): string =>
    `| ${figure} | ${cell(of(runs, pick), d)} | ${target} |`
  const lines = [
    `HQ pull (\`GET /api/v1/hq/rollups\`, NDJSON): a data dir seeded through SQLite with a closed day (yesterday UTC) of 1-minute rollups for ${hc.series.toLocaleString('en-US')} series ` +
      `(${f.windows.toLocaleString('en-US')} windows, 6 readings of 0.1 resolution a minute on a random walk; and the hours folded from the same readings), seeded in ${num(f.seedMs / 1000, 1)} s; ` +
      `a \`stockyard start\` child (127.0.0.1, ephemeral ports, analytics and Node-RED off, \`hq.allowedLatenessMs: 0\`). Spawn → "stockyard ready": ` +
      `${num(f.firstReadyMs / 1000, 2)} s on the first start, whose writer publishes every window before it is ready, ${num(f.againReadyMs / 1000, 2)} s on a restart. ` +
      `Puller: ${who}${f.puller === 'cli' ? ' `--once --streams rollups --resolution 1m`' : ''}, a child process, into a fresh directory each run, then again from the cursor it saved; ` +
      `runs: ${f.full.length}; cells: median (min–max). /proc sampled every 20 ms; \`GET /healthz\` every 20 ms meanwhile.`,
    '',
    '| Figure | value | target |',
    '|---|---:|---|',
    row(
      'Full pull, spawn → exit, s',
      f.full,
      (r) => r.wallMs / 1000,
      2,
      wall.runs ? `≤ ${HQ_TARGETS.pullS} s: ${verdict(wall.median <= HQ_TARGETS.pullS)}` : '',
    ),
    row('Windows / s (over the whole pull)', f.full, (r) => (r.rows * 1000) / r.wallMs, 0),
    row('Puller peak RSS (VmHWM), MiB', f.full, (r) => r.hwmMb, 0),
    row('Puller peak RSS, pull from the saved cursor (start-up, no rows), MiB', f.resume, (r) => r.hwmMb, 0),
    row('Puller peak RSS once 100k windows were in, MiB', f.full, (r) => r.earlyHwmMb, 0),
    `| Puller RSS growth per 100k windows: peak − peak of the pull from the cursor, MiB | ${cell(total, 2)} | ` +
      `${total.runs ? `≤ ${HQ_TARGETS.mbPer100k} MB: ${verdict(total.median <= HQ_TARGETS.mbPer100k * MIB_PER_MB)}` : ''} |`,
    `| Puller RSS growth per 100k windows: peak − peak once 100k windows were in, MiB | ${cell(steady, 2)} | ` +
      `${steady.runs ? `≤ ${HQ_TARGETS.mbPer100k} MB: ${verdict(steady.median <= HQ_TARGETS.mbPer100k * MIB_PER_MB)}` : ''} |`,
    row('Puller CPU, cores', f.full, (r) => r.cpuCores, 2),
    row('Gateway CPU during the pull (every thread), cores', f.full, (r) => r.gatewayCores, 2),
    row('Gateway main thread (MQTT broker and HTTP) during the pull, cores', f.full, (r) => r.gatewayMainCores, 2),
    row('`GET /healthz` answer time during the pull, p99, ms', f.full, (r) => r.healthP99Ms, 1),
    row('`GET /healthz` answer time during the pull, max, ms', f.full, (r) => r.healthMaxMs, 0),
    row('Pull from the saved cursor (nothing new), spawn → exit, s', f.resume, (r) => r.wallMs / 1000, 2),
  ]
  const tail: string[] = []
  const rp = f.readerPlain
  const rg = f.readerGzip
  if (rp) {
    const row = (r: PullRun, what: string): string =>
      `| ${what} | ${num(r.wallMs / 1000, 2)} | ${fmtRate((r.rows * 1000) / r.wallMs)} | ${mb(r.wireBytes)} | ${num(r.gatewayCores, 2)} | ${num(r.gatewayMainCores, 2)} | ${num(r.healthMaxMs, 0)} | ${num(r.hwmMb, 0)} |`
    lines.push(
      '',
      "The gateway alone: the bench's minimal reader (a `node -e` child: node:http, splits lines and counts rows, no JSON parsing, nothing kept; one request with `limit=10000000`), one run each.",
      '',
      '| Reader | spawn → exit, s | windows / s | bytes on the wire | gateway CPU, cores | main thread, cores | `/healthz` max, ms | reader peak RSS, MiB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      row(rp, 'plain'),
      ...(rg ? [row(rg, '`Accept-Encoding: gzip`')] : []),
    )
  }
  if (f.proxy)
    tail.push(
      `- The puller asks for gzip: **${f.proxy.gzipAsked ? 'yes' : 'no'}**; through a byte-counting proxy it received ${mb(f.proxy.wireBytes)} in ${f.proxy.requests} requests (uncompressed NDJSON: ${mb(rp?.bodyBytes)}).`,
    )
  else if (!hc.compare) tail.push('- Under --quick the gzip reader and the proxied pull (whether the puller asks for gzip, its bytes on the wire) are skipped.')
  if (f.ingestBase.length && f.ingestPull.length) {
    const sp = (runs: RunFigures[], pick: (r: RunFigures) => number): Spread => spread(runs.map(pick))
    const ratio = (a: Spread, b: Spread): string => (a.runs && b.runs && b.median > 0 ? `${(a.median / b.median).toFixed(2)}×` : '–')
    const irow = (figure: string, pick: (r: RunFigures) => number, d: number): string => {
      const off = sp(f.ingestBase, pick)
      const on = sp(f.ingestPull, pick)
      return `| ${figure} | ${cell(off, d)} | ${cell(on, d)} | ${ratio(on, off)} |`
    }
    const p99 = [sp(f.ingestBase, (r) => r.load.latencyMs.p99), sp(f.ingestPull, (r) => r.load.latencyMs.p99)] as const
    const r99 = p99[0].median > 0 ? p99[1].median / p99[0].median : NaN
    lines.push(
      '',
      `Ingest with a full pull running / none: the same gateway; QoS 1 readings at ${fmtRate(hc.ingestRate)} msg/s over the generator's connections (simulators/loadgen in its own process), ` +
        `a ${WARMUP_MS / 1000} s warm-up, then ${f.ingestBase.length} × ${hc.ingestMs / 1000} s each, alternating ${f.ingestBase.length > 1 ? 'A B B A' : 'A B'}. During a B run, pulls from scratch (each a fresh puller into a fresh directory, at nice 19: HQ pulls from elsewhere, so the puller gets only the CPU the gateway and the generator leave) run back to back, ` +
        `the first started 1.5 s before the generator; pulls started: ${f.loop.started}, finished: ${f.loop.finished} (${f.loop.windows.toLocaleString('en-US')} windows), the last of each run stopped with SIGTERM.`,
      '',
      '| Figure | no pull | pulling | pulling / no pull |',
      '|---|---:|---:|---:|',
      irow('Ack p99 (publish write → PUBACK read), ms', (r) => r.load.latencyMs.p99, 2),
      irow('Ack p50, ms', (r) => r.load.latencyMs.p50, 2),
      irow('Ack max, ms', (r) => r.load.latencyMs.max, 1),
      irow('Gateway CPU (every thread), cores', (r) => r.brokerCpuCores, 2),
      irow('Gateway RSS peak during the run, MiB', (r) => r.brokerRssPeakMb, 0),
      '',
      `- Target: ingest ack p99 with a full pull running ≤ ${HQ_TARGETS.ingestP99Ratio}× without: ${Number.isFinite(r99) ? `${r99 <= HQ_TARGETS.ingestP99Ratio ? '**PASS**' : '**FAIL**'} — ${num(p99[1].median, 2)} vs ${num(p99[0].median, 2)} ms = ${r99.toFixed(2)}×` : '–'}`,
    )
    const unacked = [...f.ingestBase, ...f.ingestPull].reduce((n, r) => n + r.load.unacked, 0)
    if (unacked) tail.push(`- ${unacked} messages never acknowledged.`)
  }
  const pullOther = Math.max(0, ...[...f.full, ...f.resume].map((r) => r.otherCores))
  const ingestOther = Math.max(0, ...[...f.ingestBase, ...f.ingestPull].map((r) => r.otherCpuCores))
  if (pullOther > DISTURBED_CORES)
    tail.push(`- Other processes used up to ${pullOther.toFixed(2)} cores during a pull: the pull figures are disturbed; rerun on an idle machine.`)
  if (ingestOther > DISTURBED_CORES)
    tail.push(
      `- Other processes used up to ${ingestOther.toFixed(2)} cores during an ingest run (the pullers' own CPU left out): the ack figures are disturbed; rerun on an idle machine.`,
    )
  tail.push(...f.notes.map((n) => `- ${n}`))
  return tail.length ? [...lines, '', ...tail] : lines
}
