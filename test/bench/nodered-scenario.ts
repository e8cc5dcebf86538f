/**
 * The Node-RED scenario of `npm run bench`: what embedding Node-RED (`nodeRed.enabled`) costs. Every
 * figure comes from a `stockyard start` child of its own (127.0.0.1, ephemeral ports, analytics off,
 * an empty rules dir, log level info), with the repository's `flows/` as the shipped flows (an empty
 * set when it holds no `*.json`).
 *
 * 1. Start and memory, `runs` rounds of: off (a fresh data dir), on first start (a fresh data dir:
 *    the shipped flows are deployed), on restart (that same data dir again). Spawn → "stockyard
 *    ready", spawn → "Node-RED running" (the worker's flows started) and Node-RED's own `startMs`;
 *    VmRSS `settleMs` after the gateway is up (for on, after Node-RED is), VmHWM, SIGTERM → exit.
 * 2. Ingest with Node-RED on / off: two gateways from one provisioned data dir, one with Node-RED and
 *    its shipped flows running; QoS 1 readings at a fixed rate, ack p99, runs alternating A B B A.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadShippedFlows } from '../../gateway/nodered/flows.ts'
import { REPO_ROOT } from './paths.ts'
import { BoundedProcess, machineBusySeconds, procCpuSeconds, procRssMb } from './proc.ts'
import { num } from './report.ts'
import { fmtRate, measure, spread, WARMUP_MS, type BenchConfig, type RunFigures, type Spread } from './scenarios.ts'
import { provisionGateway, type Provisioned } from './targets/gateway.ts'
import type { Target } from './targets/types.ts'

const CLI = 'bin/stockyard.mjs'
const FLOWS_DIR = join(REPO_ROOT, 'flows')
/** Other processes' CPU above which a figure is reported as disturbed (run.ts uses the same bar). */
const DISTURBED_CORES = 0.2

export interface NodeRedBenchConfig {
  /** Rounds of off / on first start / on restart. */
  runs: number
  /** How long after start-up RSS is read. */
  settleMs: number
  /** Ingest runs per side, alternating. */
  ingestRuns: number
  ingestRate: number
  ingestMs: number
}

/** One gateway start, timed from the spawn (ms). */
export interface StartRun {
  readyMs: number
  /** Spawn → "Node-RED running"; null when Node-RED is off. */
  redMs: number | null
  /** Node-RED's own figure: worker start → flows running. */
  redStartMs: number | null
  flows: number | null
  seededFiles: number | null
  rssMb: number
  hwmMb: number
  stopMs: number
  /** CPU other processes used meanwhile, in cores. */
  otherCores: number
}

export interface NodeRedFigures {
  shipped: { files: string[]; nodes: number; types: Record<string, number> }
  off: StartRun[]
  first: StartRun[]
  restart: StartRun[]
  ingestOff: RunFigures[]
  ingestOn: RunFigures[]
  /** Distinct warn / error log lines of the gateways ("off: msg", "on: msg") and how often. */
  warnings: Record<string, number>
  notes: string[]
}

type Mode = 'off' | 'on'

/** A `stockyard start` child, its ready line and (Node-RED on) its Node-RED line, timed from the spawn. */
interface Launched {
  proc: BoundedProcess
  mode: Mode
  readyMs: number
  ports: { mqtt: number; http: number }
  red: { ms: number; startMs: number; flows: number; seededFiles: number } | null
}

/** Spawn a gateway on `dataDir` with `configFile`, wait for "stockyard ready" and, when on, "Node-RED running". */
async function launch(dataDir: string, configFile: string, mode: Mode, site: string): Promise<Launched> {
  const t0 = performance.now()
  const proc = new BoundedProcess(
    process.execPath,
    [CLI, 'start', '--data', dataDir, '--config', configFile, '--site', site, '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0', '--log-level', 'info'],
    { lifetimeS: 900, cwd: REPO_ROOT },
  )
  const ready = proc.waitForLine((line) => {
    if (!line.includes('stockyard ready')) return undefined
    const v = JSON.parse(line) as { msg?: string; ports?: { mqtt?: number; http?: number } }
    return v.msg === 'stockyard ready' && typeof v.ports?.mqtt === 'number'
      ? { ms: performance.now() - t0, mqtt: v.ports.mqtt, http: v.ports.http ?? 0 }
      : undefined
  }, 60_000)
  // Registered now: the Node-RED line can arrive in the same chunk as the ready line.
  const running =
    mode === 'on'
      ? proc.waitForLine((line) => {
          if (!line.includes('Node-RED')) return undefined
          const v = JSON.parse(line) as { msg?: string; reason?: string; startMs?: number; flows?: number; seededFiles?: number }
          if (v.msg === 'Node-RED could not start') return { failed: v.reason ?? 'no reason given' }
          return v.msg === 'Node-RED running'
            ? { ms: performance.now() - t0, startMs: v.startMs ?? NaN, flows: v.flows ?? NaN, seededFiles: v.seededFiles ?? NaN }
            : undefined
        }, 120_000)
      : null
  running?.catch(() => undefined)
  try {
    const r = await ready
    let red: Launched['red'] = null
    if (running) {
      const up = await running
      if ('failed' in up) throw new Error(`Node-RED could not start: ${up.failed}`)
      red = up
    }
    return { proc, mode, readyMs: r.ms, ports: { mqtt: r.mqtt, http: r.http }, red }
  } catch (err) {
    await proc.stop(5000)
    throw err
  }
}

/** A status field of /proc/PID/status in MiB (VmRSS, VmHWM); NaN when the process is gone. */
function procStatusMb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : NaN
  } catch {
    return NaN
  }
}

/** SIGTERM (bounded) and time it; the gateway's warn / error lines are counted into `warnings`. */
async function stopTimed(l: Launched, warnings: Record<string, number>): Promise<number> {
  const t = performance.now()
  await l.proc.stop(15_000)
  const ms = performance.now() - t
  for (const line of l.proc.lines) {
    let v: { level?: number; msg?: string; reason?: string; problem?: string }
    try {
      v = JSON.parse(line) as typeof v
    } catch {
      continue // not a log line (a stack trace, a warning from node)
    }
    const msg = firstLine(String(v.msg))
    if ((v.level ?? 0) < 40 || /^-*$/.test(msg)) continue // Node-RED frames some warnings with lines of dashes
    const why = v.reason ?? v.problem
    const key = `${l.mode}: ${msg.slice(0, 160)}${why ? ` (${firstLine(why).slice(0, 120)})` : ''}`
    warnings[key] = (warnings[key] ?? 0) + 1
  }
  const { code, signal } = await l.proc.exited
  const exit = `${l.mode}: exited with ${signal ?? `code ${code}`} on SIGTERM`
  if (code !== 0) warnings[exit] = (warnings[exit] ?? 0) + 1
  return ms
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .find((x) => x.trim())
      ?.trim() ?? ''
  )
}

/** One start: launch, settle, read RSS, stop. */
async function startRun(
  dataDir: string,
  configFile: string,
  mode: Mode,
  site: string,
  nc: NodeRedBenchConfig,
  warnings: Record<string, number>,
): Promise<StartRun> {
  const busy0 = machineBusySeconds()
  const own0 = process.cpuUsage()
  const t0 = performance.now()
  const l = await launch(dataDir, configFile, mode, site)
  try {
    await sleep(nc.settleMs)
    const pid = l.proc.pid()
    const rssMb = procRssMb(pid) ?? NaN
    const hwmMb = procStatusMb(pid, 'VmHWM')
    // Machine CPU neither the gateway nor this process used, spawn to now: anything else competing.
    const own = process.cpuUsage(own0)
    const others = machineBusySeconds() - busy0 - (procCpuSeconds(pid) ?? 0) - (own.user + own.system) / 1e6
    const otherCores = Math.max(0, others / ((performance.now() - t0) / 1000))
    const stopMs = await stopTimed(l, warnings)
    return {
      readyMs: l.readyMs,
      redMs: l.red?.ms ?? null,
      redStartMs: l.red?.startMs ?? null,
      flows: l.red?.flows ?? null,
      seededFiles: l.red?.seededFiles ?? null,
      rssMb,
      hwmMb,
      stopMs,
      otherCores,
    }
  } finally {
    await l.proc.stop(5000)
  }
}

export async function nodeRedBench(cfg: BenchConfig, nc: NodeRedBenchConfig, site: string, log: (s: string) => void): Promise<NodeRedFigures> {
  const shipped = loadShippedFlows(FLOWS_DIR)
  if (!shipped.ok) throw new Error(`the flows in ${FLOWS_DIR} are invalid: ${shipped.errors.join('; ')}`)
  const types: Record<string, number> = {}
  for (const n of shipped.nodes) types[n.type] = (types[n.type] ?? 0) + 1
  const f: NodeRedFigures = {
    shipped: { files: shipped.files, nodes: shipped.nodes.length, types },
    off: [],
    first: [],
    restart: [],
    ingestOff: [],
    ingestOn: [],
    warnings: {},
    notes: [],
  }
  log(
    `  nodered: shipped flows in flows/: ${shipped.files.length ? `${shipped.files.join(', ')} (${shipped.nodes.length} nodes)` : 'none (an empty flow set)'}`,
  )
  const root = mkdtempSync(join(tmpdir(), 'stockyard-bench-nodered-'))
  try {
    const rulesDir = join(root, 'rules')
    mkdirSync(rulesDir)
    const configs = { off: join(root, 'off.json'), on: join(root, 'on.json') }
    for (const mode of ['off', 'on'] as const) {
      const config = { host: '127.0.0.1', analytics: { enabled: false }, rules: { dir: rulesDir }, nodeRed: { enabled: mode === 'on', flowsDir: FLOWS_DIR } }
      writeFileSync(configs[mode], JSON.stringify(config, null, 2))
    }

    // 1. Start and memory: off, on (first start), on (restart), in turn.
    for (let i = 0; i < nc.runs; i++) {
      const offDir = join(root, `off-${i}`)
      const onDir = join(root, `on-${i}`)
      const off = await startRun(offDir, configs.off, 'off', site, nc, f.warnings)
      f.off.push(off)
      const first = await startRun(onDir, configs.on, 'on', site, nc, f.warnings)
      f.first.push(first)
      const again = await startRun(onDir, configs.on, 'on', site, nc, f.warnings)
      f.restart.push(again)
      for (const d of [offDir, onDir]) rmSync(d, { recursive: true, force: true })
      const fmt = (r: StartRun): string =>
        `ready ${r.readyMs.toFixed(0)} ms${r.redMs === null ? '' : `, Node-RED running ${r.redMs.toFixed(0)} ms (its own ${r.redStartMs} ms, ${r.flows} flow nodes, ${r.seededFiles} files deployed)`}, ` +
        `RSS ${r.rssMb.toFixed(0)} MiB (peak ${r.hwmMb.toFixed(0)}), stop ${r.stopMs.toFixed(0)} ms, other ${r.otherCores.toFixed(2)} cores`
      log(`  nodered: run ${i + 1}/${nc.runs}: off: ${fmt(off)}`)
      log(`  nodered: run ${i + 1}/${nc.runs}: on, first start: ${fmt(first)}`)
      log(`  nodered: run ${i + 1}/${nc.runs}: on, restart: ${fmt(again)}`)
    }

    // 2. Ingest at a fixed rate, Node-RED on / off.
    if (nc.ingestRuns > 0) {
      try {
        await ingestOnOff(cfg, nc, site, root, configs, f, log)
      } catch (err) {
        log(`  nodered: ingest on / off failed: ${(err as Error).message}`)
        f.notes.push(`ingest on / off failed: ${firstLine((err as Error).message)}`)
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  const after = loadShippedFlows(FLOWS_DIR)
  const was = `${shipped.files.join(', ') || 'no files'} (${shipped.nodes.length} nodes)`
  const now = after.ok ? `${after.files.join(', ') || 'no files'} (${after.nodes.length} nodes)` : `invalid (${after.errors.join('; ')})`
  if (now !== was) f.notes.push(`flows/ changed during the run: ${was} at the start, ${now} at the end; the figures mix both`)
  return f
}

async function ingestOnOff(
  cfg: BenchConfig,
  nc: NodeRedBenchConfig,
  site: string,
  root: string,
  configs: Record<Mode, string>,
  f: NodeRedFigures,
  log: (s: string) => void,
): Promise<void> {
  const dirs = { off: join(root, 'ingest-off'), on: join(root, 'ingest-on') }
  mkdirSync(dirs.off)
  const p = await provisionGateway(dirs.off, site, cfg.connections)
  if (!p.ok) {
    f.notes.push(`ingest on / off: ${p.reason}`)
    return
  }
  cpSync(dirs.off, dirs.on, { recursive: true })
  const launched: Launched[] = []
  try {
    for (const mode of ['off', 'on'] as const) launched.push(await launch(dirs[mode], configs[mode], mode, site))
    await sleep(nc.settleMs)
    const [off, on] = launched.map((l) => asTarget(l, site, p.provisioned)) as [Target, Target]
    for (const t of [off, on]) {
      const w = await measure(t, cfg, { kind: 'rate', msgPerSec: nc.ingestRate }, WARMUP_MS)
      log(`  nodered: ${t.label}: warm-up (not recorded) ack p99 ${w.load.latencyMs.p99.toFixed(2)} ms`)
    }
    for (let i = 0; i < 2 * nc.ingestRuns; i++) {
      // A B B A A B …: each pair swaps its order.
      const t = i % 4 === 0 || i % 4 === 3 ? off : on
      const r = await measure(t, cfg, { kind: 'rate', msgPerSec: nc.ingestRate }, nc.ingestMs)
      ;(t === on ? f.ingestOn : f.ingestOff).push(r)
      const l = r.load.latencyMs
      log(
        `  nodered: ${t.label}: ${fmtRate(r.load.rate)} msg/s: ack p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms; ` +
          `gateway ${r.brokerCpuCores.toFixed(2)} cores, RSS peak ${r.brokerRssPeakMb.toFixed(0)} MiB, unacked ${r.load.unacked}, other ${r.otherCpuCores.toFixed(2)} cores`,
      )
    }
  } finally {
    for (const l of launched) await stopTimed(l, f.warnings)
  }
}

function asTarget(l: Launched, site: string, p: Provisioned): Target {
  return {
    name: 'gateway',
    label: `gateway, Node-RED ${l.mode}`,
    port: l.ports.mqtt,
    pid: l.proc.pid(),
    site,
    devices: p.devices,
    http: { port: l.ports.http, token: p.token },
    counters: () => Promise.resolve(null),
    stop: () => l.proc.stop(15_000),
  }
}

export function renderNodeRed(f: NodeRedFigures, nc: NodeRedBenchConfig, cfg: BenchConfig): string[] {
  const cell = (s: Spread, d: number): string => (!s.runs ? '–' : s.runs > 1 ? `${num(s.median, d)} (${num(s.min, d)}–${num(s.max, d)})` : num(s.median, d))
  const of = (runs: StartRun[], pick: (r: StartRun) => number | null): Spread =>
    spread(runs.map(pick).filter((x): x is number => x !== null && Number.isFinite(x)))
  const ratio = (a: Spread, b: Spread): string => (a.runs && b.runs && b.median > 0 ? `${(a.median / b.median).toFixed(2)}×` : '–')
  const delta = (a: Spread, b: Spread, d: number, unit: string): string =>
    a.runs && b.runs ? `${a.median >= b.median ? '+' : '−'}${num(Math.abs(a.median - b.median), d)} ${unit}` : '–'
  const row = (figure: string, pick: (r: StartRun) => number | null, d: number, unit: string): string => {
    const [off, first, again] = [f.off, f.first, f.restart].map((runs) => of(runs, pick)) as [Spread, Spread, Spread]
    return `| ${figure} | ${cell(off, d)} | ${cell(first, d)} | ${cell(again, d)} | ${ratio(again, off)} | ${delta(again, off, d, unit)} |`
  }
  const s = f.shipped
  const shipped = s.files.length
    ? `${s.files.length} files (${s.files.join(', ')}), ${s.nodes} nodes: ${Object.entries(s.types)
        .sort((a, b) => b[1] - a[1])
        .map(([t, n]) => `${n} ${t}`)
        .join(', ')}`
    : 'none (flows/ held no *.json: Node-RED ran an empty flow set, so a first start deploys nothing)'
  const lines = [
    `Node-RED (embedded, \`nodeRed.enabled\`): each start is a \`stockyard start\` child of its own (127.0.0.1, ephemeral ports, analytics off, an empty rules dir, log level info); ` +
      `${nc.runs} rounds of: off (a fresh data dir), on first start (a fresh data dir: the shipped flows are deployed), on restart (the same data dir). ` +
      `Shipped flows (flows/): ${shipped}. Cells: median (min–max); ratio and difference: on (restart) against off, medians.`,
    '',
    '| Figure | Node-RED off | on, first start | on, restart | on (restart) / off | on (restart) − off |',
    '|---|---:|---:|---:|---:|---:|',
    row('Spawn → "stockyard ready", ms', (r) => r.readyMs, 0, 'ms'),
    row('Spawn → everything up ("stockyard ready" off, "Node-RED running" on), ms', (r) => r.redMs ?? r.readyMs, 0, 'ms'),
    row("Node-RED's own start (worker start → flows running), ms", (r) => r.redStartMs, 0, 'ms'),
    row(`RSS ${nc.settleMs / 1000} s after everything is up, MiB`, (r) => r.rssMb, 0, 'MiB'),
    row('Peak RSS from spawn to then (VmHWM), MiB', (r) => r.hwmMb, 0, 'MiB'),
    row('SIGTERM → exit, ms', (r) => r.stopMs, 0, 'ms'),
  ]
  const flowCounts = [...new Set(f.first.map((r) => `${r.flows} flow nodes running, ${r.seededFiles} files deployed`))].join('; ')
  const againCounts = [...new Set(f.restart.map((r) => `${r.flows} flow nodes, ${r.seededFiles} files deployed`))].join('; ')
  if (f.first.length) lines.push('', `- First start: ${flowCounts}. Restart: ${againCounts}.`)
  const tail: string[] = []
  if (f.ingestOff.length && f.ingestOn.length) {
    const sp = (runs: RunFigures[], pick: (r: RunFigures) => number): Spread => spread(runs.map(pick))
    const irow = (figure: string, pick: (r: RunFigures) => number, d: number): string => {
      const off = sp(f.ingestOff, pick)
      const on = sp(f.ingestOn, pick)
      return `| ${figure} | ${cell(off, d)} | ${cell(on, d)} | ${ratio(on, off)} |`
    }
    const unacked = [...f.ingestOff, ...f.ingestOn].reduce((n, r) => n + r.load.unacked, 0)
    lines.push(
      '',
      `Ingest with Node-RED on (its shipped flows running) / off: two gateways from one provisioned data dir, both running; QoS 1 readings at ${fmtRate(nc.ingestRate)} msg/s over ${cfg.connections} connections ` +
        `(simulators/loadgen in its own process), a ${WARMUP_MS / 1000} s warm-up each, then ${f.ingestOff.length} × ${nc.ingestMs / 1000} s each, alternating A B B A.`,
      '',
      '| Figure | Node-RED off | Node-RED on | on / off |',
      '|---|---:|---:|---:|',
      irow('Ack p99 (publish write → PUBACK read), ms', (r) => r.load.latencyMs.p99, 2),
      irow('Ack p50, ms', (r) => r.load.latencyMs.p50, 2),
      irow('Ack max, ms', (r) => r.load.latencyMs.max, 1),
      irow('Gateway CPU (every thread), cores', (r) => r.brokerCpuCores, 2),
      irow('Gateway RSS peak during the run, MiB', (r) => r.brokerRssPeakMb, 0),
    )
    tail.push(
      s.nodes
        ? '- The load is `reading` messages only (what simulators/loadgen sends): flows that take other kinds (scans, alerts) run, but this load never reaches them.'
        : '- With no shipped flows nothing in Node-RED subscribes to the readings: this compares an idle Node-RED thread with none.',
    )
    if (unacked) tail.push(`- ${unacked} messages never acknowledged.`)
  }
  const startOther = Math.max(0, ...[...f.off, ...f.first, ...f.restart].map((r) => r.otherCores))
  const ingestOther = Math.max(0, ...[...f.ingestOff, ...f.ingestOn].map((r) => r.otherCpuCores))
  if (startOther > DISTURBED_CORES)
    tail.push(`- Other processes used up to ${startOther.toFixed(2)} cores during a start: the start figures are disturbed; rerun on an idle machine.`)
  if (ingestOther > DISTURBED_CORES)
    tail.push(`- Other processes used up to ${ingestOther.toFixed(2)} cores during an ingest run: the ack figures are disturbed; rerun on an idle machine.`)
  const warned = Object.entries(f.warnings).sort((a, b) => b[1] - a[1])
  if (warned.length)
    tail.push(
      `- Warnings and errors the gateways logged (distinct lines × how often, over all starts):`,
      ...warned.map(([w, n]) => `  - ${w.replace(/\|/g, '\\|')} × ${n}`),
    )
  tail.push(...f.notes.map((n) => `- ${n}`))
  return tail.length ? [...lines, '', ...tail] : lines
}
