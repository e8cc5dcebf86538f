/**
 * The dashboards scenario of `npm run bench` (issue 7's targets), on a gateway with the repository's
 * dashboards and the generator's devices:
 *
 * 1. Size: every file the overview loads (page, scripts, styles, uPlot), gzipped. Target ≤ 300 KB.
 * 2. First meaningful paint of the overview on loopback, measured by Debian's Chromium: from the
 *    navigation's start to every panel having drawn (performance.now() in the page), over several
 *    loads with a warm session. Target ≤ 1 s.
 * 3. The overview's API calls (the queries of dashboards/overview.json, as the page makes them) in a
 *    closed loop of 4 clients, with no ingest (the baseline of this run) and under 5k msg/s ingest:
 *    p99 latency. Target ≤ 50 ms under ingest.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium } from 'playwright-core'
import { REPO_ROOT } from './paths.ts'
import { num } from './report.ts'
import { fmtRate, measure, spread, type BenchConfig, type RunFigures } from './scenarios.ts'
import { gatewayDataDir, launchGateway, provisionGateway } from './targets/gateway.ts'
import type { Target } from './targets/types.ts'

const CHROMIUM = '/usr/bin/chromium'
export const UI_TARGETS = { gzipKb: 300, paintMs: 1000, apiP99Ms: 50 }

export interface UiBenchConfig {
  paintLoads: number
  apiMs: number
  ingestRate: number
  clients: number
}

export interface UiFigures {
  gzipBytes: number | null
  files: number
  paintMs: number[]
  fcpMs: number[]
  idle: number[]
  busy: number[]
  busyIngest: RunFigures | null
  requests: { idle: number; busy: number }
  notes: string[]
}

/** The overview's API calls with relative times resolved, as the page sends them. */
function overviewCalls(): string[] {
  const def = JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards/overview.json'), 'utf8')) as {
    panels: Array<{ query: { path: string; params?: Record<string, string> } }>
  }
  const seen = new Set<string>()
  for (const p of def.panels) {
    const params = Object.entries(p.query.params ?? {}).map(([k, v]) => {
      const rel = /^-(\d+)([smhd])$/.exec(v)
      const ms = rel ? Number(rel[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 's' | 'm' | 'h' | 'd'] : 0
      return [k, rel ? String(Date.now() - ms) : v]
    })
    seen.add(`${p.query.path}${params.length ? `?${new URLSearchParams(params).toString()}` : ''}`)
  }
  return [...seen]
}

/** `clients` closed loops over `calls` for `ms`; every latency in ms. */
async function hammer(port: number, token: string, calls: string[], clients: number, ms: number): Promise<number[]> {
  const out: number[] = []
  const end = Date.now() + ms
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; Date.now() < end; i++) {
        const t = performance.now()
        const res = await fetch(`http://127.0.0.1:${port}${calls[i % calls.length]}`, { headers: { authorization: `Bearer ${token}` } })
        await res.arrayBuffer()
        if (!res.ok) throw new Error(`${calls[i % calls.length]} answered ${res.status}`)
        out.push(performance.now() - t)
      }
    }),
  )
  return out
}

const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] ?? 0

export async function uiBench(cfg: BenchConfig, uc: UiBenchConfig, site: string, log: (s: string) => void): Promise<UiFigures> {
  const f: UiFigures = { gzipBytes: null, files: 0, paintMs: [], fcpMs: [], idle: [], busy: [], busyIngest: null, requests: { idle: 0, busy: 0 }, notes: [] }
  const dir = gatewayDataDir()
  const p = await provisionGateway(dir, site, cfg.connections)
  if (!p.ok) throw new Error(p.reason)
  const started = await launchGateway(dir, site, p.provisioned, { label: 'stockyard gateway (dashboards)' })
  if (!started.ok) throw new Error(started.reason)
  const t: Target = started.target
  const port = t.http!.port
  const token = t.http!.token!
  try {
    if (!existsSync(CHROMIUM)) {
      f.notes.push(`paint and size not measured: ${CHROMIUM} is not installed (apt-get install chromium)`)
    } else {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      })
      try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
        const login = await context.request.post(`http://127.0.0.1:${port}/api/v1/session`, { data: { token } })
        if (!login.ok()) throw new Error(`login answered ${login.status()}`)
        const page = await context.newPage()
        const bodies = new Map<string, Buffer>()
        page.on('response', (r) => {
          const path = new URL(r.url()).pathname
          if (path === '/' || path.startsWith('/ui/'))
            void r.body().then(
              (b) => bodies.set(path, b),
              () => undefined,
            )
        })
        const panels = (JSON.parse(readFileSync(join(REPO_ROOT, 'dashboards/overview.json'), 'utf8')) as { panels: unknown[] }).panels.length
        for (let i = 0; i <= uc.paintLoads; i++) {
          await page.goto(`http://127.0.0.1:${port}/#/overview`, { waitUntil: 'commit' })
          await page.waitForFunction(
            (n) => {
              const b = [...document.querySelectorAll('.grid[data-page="overview"] .panel-body')]
              return b.length === n && b.every((x) => x.childElementCount > 0)
            },
            panels,
            { timeout: 10_000, polling: 'raf' },
          )
          const ms = await page.evaluate(() => performance.now())
          const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1)
          if (i === 0) continue // the first load fills the caches
          f.paintMs.push(ms)
          if (fcp >= 0) f.fcpMs.push(fcp)
        }
        await page.waitForTimeout(200)
        f.files = bodies.size
        f.gzipBytes = [...bodies.values()].reduce((s, b) => s + gzipSync(b, { level: 9 }).length, 0)
        log(
          `  dashboards: overview drawn in ${f.paintMs.map((m) => m.toFixed(0)).join(', ')} ms; ${f.files} files, ${(f.gzipBytes / 1024).toFixed(1)} KB gzipped`,
        )
      } finally {
        await browser.close()
      }
    }
    const calls = overviewCalls()
    const idle = await hammer(port, token, calls, uc.clients, uc.apiMs)
    f.idle = idle
    f.requests.idle = idle.length
    log(`  dashboards: overview API calls, no ingest: p99 ${p99(idle).toFixed(1)} ms over ${idle.length} requests`)
    let busy: number[] = []
    let hammering: Promise<number[]> | null = null
    f.busyIngest = await measure(t, cfg, { kind: 'rate', msgPerSec: uc.ingestRate }, uc.apiMs + 1000, {
      onStart: () => {
        hammering = new Promise((r) => setTimeout(r, 500)).then(() => hammer(port, token, calls, uc.clients, uc.apiMs))
        hammering.catch(() => undefined)
      },
    })
    if (hammering) busy = await hammering
    f.busy = busy
    f.requests.busy = busy.length
    log(`  dashboards: overview API calls under ${fmtRate(uc.ingestRate)} msg/s: p99 ${p99(busy).toFixed(1)} ms over ${busy.length} requests`)
  } finally {
    await t.stop()
  }
  return f
}

export function renderUi(f: UiFigures, uc: UiBenchConfig): string[] {
  const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL')
  const paint = spread(f.paintMs)
  const fcp = spread(f.fcpMs)
  const idle = p99(f.idle)
  const busy = p99(f.busy)
  const lines = [
    `Dashboards (issue 7): the overview page of dashboards/overview.json on a gateway with the generator's devices; Chromium ${CHROMIUM}, headless, loopback, a warm session.`,
    '',
    '| Figure | value | baseline in this run | ratio | target |',
    '|---|---:|---:|---:|---|',
  ]
  if (f.gzipBytes !== null)
    lines.push(
      `| JS + CSS + HTML the overview loads (${f.files} files), gzipped, KB | ${num(f.gzipBytes / 1024, 1)} | | | ≤ ${UI_TARGETS.gzipKb}: ${pass(f.gzipBytes / 1024 <= UI_TARGETS.gzipKb)} |`,
    )
  if (paint.runs) {
    lines.push(
      `| Overview drawn (every panel), ms from navigation start, median (min–max) of ${paint.runs} loads | ${num(paint.median, 0)} (${num(paint.min, 0)}–${num(paint.max, 0)}) | first contentful paint ${fcp.runs ? num(fcp.median, 0) : '–'} | | ≤ ${UI_TARGETS.paintMs}: ${pass(paint.median <= UI_TARGETS.paintMs)} |`,
    )
  }
  lines.push(
    `| Overview API calls p99, ms, ${uc.clients} closed-loop clients, ${uc.apiMs / 1000} s, under ${fmtRate(uc.ingestRate)} msg/s | ${num(busy, 1)} | ${num(idle, 1)} with no ingest | ${idle > 0 ? (busy / idle).toFixed(2) : '–'}× | ≤ ${UI_TARGETS.apiP99Ms}: ${pass(busy <= UI_TARGETS.apiP99Ms)} |`,
  )
  lines.push(
    '',
    `- Requests: ${f.requests.idle} with no ingest, ${f.requests.busy} under ingest${f.busyIngest ? ` (ingest achieved ${fmtRate(f.busyIngest.load.rate)} msg/s, ack p99 ${f.busyIngest.load.latencyMs.p99.toFixed(2)} ms)` : ''}.`,
  )
  return [...lines, ...f.notes.map((n) => `- ${n}`)]
}
