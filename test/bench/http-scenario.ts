/**
 * HTTP query latency under ingest load: the generator publishes at a fixed rate while autocannon
 * (in a process of its own, closed loop, `connections` keep-alive connections) queries one endpoint
 * of the gateway's HTTP API. Reports req/s and latency per endpoint, and the ingest ack latency
 * over the same time.
 */
import { join } from 'node:path'
import { REPO_ROOT } from './paths.ts'
import { BoundedProcess } from './proc.ts'
import { num } from './report.ts'
import { fmtRate, measure, spread, type BenchConfig, type RunFigures, type Spread } from './scenarios.ts'
import type { Target } from './targets/types.ts'

export interface HttpBenchConfig {
  runs: number
  /** How long autocannon runs per endpoint and run. */
  httpMs: number
  /** autocannon connections (closed loop: each sends its next request when the last is answered). */
  connections: number
  /** The generator's fixed rate meanwhile. */
  ingestRate: number
}

/** What a dashboard asks for: an hour of one metric in 1-minute buckets, and the device list. */
export const ENDPOINTS = [
  { name: 'series', path: '/api/v1/series?metric=temperature_c&step=1m' },
  { name: 'devices', path: '/api/v1/devices' },
] as const

export interface HttpRun {
  reqPerSec: number
  p50: number
  p99: number
  max: number
  /** Responses other than 2xx, and socket errors / timeouts. */
  bad: number
  ingest: RunFigures
}

export interface HttpFigures {
  endpoints: Array<{ name: string; path: string; runs: HttpRun[] }>
  notes: string[]
}

/** The part of autocannon's `--json` result we read. */
interface AutocannonJson {
  duration: number
  requests: { average: number; total: number }
  latency: { p50: number; p99: number; max: number }
  errors: number
  timeouts: number
  non2xx: number
}

/** `runs` rounds; each round queries every endpoint in turn, each under its own fixed-rate ingest run. */
export async function httpUnderIngest(target: Target, cfg: BenchConfig, hc: HttpBenchConfig, log: (s: string) => void): Promise<HttpFigures> {
  const f: HttpFigures = { endpoints: ENDPOINTS.map((e) => ({ name: e.name, path: e.path, runs: [] })), notes: [] }
  if (!target.http?.port || !target.http.token) {
    f.notes.push('HTTP scenario: the gateway has no HTTP port or viewer token')
    return f
  }
  const { port, token } = target.http
  for (let i = 0; i < hc.runs; i++) {
    for (const e of f.endpoints) {
      let cannon: Promise<AutocannonJson> | null = null
      // Ingest first; autocannon starts 500 ms into it and ends ~500 ms before it does.
      const ingest = await measure(target, cfg, { kind: 'rate', msgPerSec: hc.ingestRate }, hc.httpMs + 1000, {
        onStart: () => {
          cannon = new Promise((resolve) => setTimeout(resolve, 500)).then(() => autocannon(`http://127.0.0.1:${port}${e.path}`, token, hc))
          cannon.catch(() => {}) // awaited below
        },
      })
      if (!cannon) throw new Error('the generator never started sending')
      const a: AutocannonJson = await cannon
      const run: HttpRun = {
        reqPerSec: a.requests.total / a.duration,
        p50: a.latency.p50,
        p99: a.latency.p99,
        max: a.latency.max,
        bad: a.non2xx + a.errors + a.timeouts,
        ingest,
      }
      e.runs.push(run)
      log(
        `  GET ${e.path} under ${fmtRate(hc.ingestRate)} msg/s, run ${i + 1}/${hc.runs}: ${num(run.reqPerSec, 0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, max ${run.max} ms, ` +
          `${run.bad} bad; ingest ${fmtRate(ingest.load.rate)} msg/s, ack p99 ${ingest.load.latencyMs.p99.toFixed(2)} ms`,
      )
    }
  }
  return f
}

/** One autocannon run in its own process (bounded by `timeout`), parsed from its `--json` line. */
async function autocannon(url: string, token: string, hc: HttpBenchConfig): Promise<AutocannonJson> {
  const seconds = Math.max(1, Math.round(hc.httpMs / 1000))
  const bin = join(REPO_ROOT, 'node_modules/autocannon/autocannon.js')
  const proc = new BoundedProcess(
    process.execPath,
    [bin, '--json', '-c', String(hc.connections), '-d', String(seconds), '-H', `authorization=Bearer ${token}`, url],
    {
      lifetimeS: seconds + 30,
      cwd: REPO_ROOT,
    },
  )
  try {
    return await proc.waitForLine(
      (line) => {
        if (!line.startsWith('{')) return undefined
        const v = JSON.parse(line) as Partial<AutocannonJson>
        return v.latency && v.requests ? (v as AutocannonJson) : undefined
      },
      (seconds + 25) * 1000,
    )
  } finally {
    await proc.stop(2000)
  }
}

/** The HTTP table (gateway only: the baselines have no HTTP API). */
export function renderHttp(f: HttpFigures, hc: HttpBenchConfig, devices: number, ackP99At: number | null): string[] {
  const cell = (s: Spread, digits: number): string =>
    s.runs > 1 ? `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})` : num(s.median, digits)
  const of = (runs: HttpRun[], pick: (r: HttpRun) => number): Spread => spread(runs.map(pick))
  const n = f.endpoints[0]?.runs.length ?? 0
  const row = (e: HttpFigures['endpoints'][number]): string => {
    const c = (pick: (r: HttpRun) => number, digits: number): string => cell(of(e.runs, pick), digits)
    const bad = e.runs.reduce((s, r) => s + r.bad, 0)
    return `| \`GET ${e.path}\` | ${c((r) => r.reqPerSec, 0)} | ${c((r) => r.p50, 1)} | ${c((r) => r.p99, 1)} | ${c((r) => r.max, 1)} | ${bad} | ${c((r) => r.ingest.load.latencyMs.p99, 2)} | ${c((r) => r.ingest.load.rate, 0)} |`
  }
  const lines = [
    `HTTP query latency under ingest (gateway): autocannon, ${hc.connections} keep-alive connections (closed loop), ${hc.httpMs / 1000} s per endpoint and run, viewer token, ` +
      `while the generator publishes ${fmtRate(hc.ingestRate)} msg/s (QoS 1, ${devices} devices, ingest figures over the autocannon run ± 0.5 s); ` +
      `the store holds what the scenarios before it ingested. ${n > 1 ? `Median (min–max) of ${n} runs.` : '1 run.'}`,
    '',
    `| Endpoint | req/s | latency p50, ms | latency p99, ms | latency max, ms | non-2xx + errors | ingest ack p99 meanwhile, ms | ingest achieved, msg/s |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...f.endpoints.filter((e) => e.runs.length).map(row),
  ]
  if (ackP99At !== null)
    lines.push('', `- For comparison, ingest ack p99 at ${fmtRate(hc.ingestRate)} msg/s without HTTP queries (rates table above): ${ackP99At.toFixed(2)} ms`)
  return [...lines, ...f.notes.map((x) => `- ${x}`)]
}
