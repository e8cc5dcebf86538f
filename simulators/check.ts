/**
 * `stockyard simulate --check`: compare the gateway's view (its HTTP API and /metrics) with the ground
 * truth the simulator wrote, and report:
 * - stock error per SKU (gateway on hand minus true on hand, per location and in total);
 * - per incident kind: alerts raised (matched), missed, false, and the detection delay;
 * - per fault kind: injected versus counted by the matching rejection or auth-failure reason.
 */
import { z } from 'zod'
import { FAULT_EXPECTS, type FaultKind, type IncidentKind, type TruthRecord } from './model.ts'
import type { Scenario } from './scenario.ts'

const MIN = 60_000

export interface CheckOptions {
  /** http://host:port of the gateway's API. */
  api: string
  /** A viewer token. */
  token: string
  truth: readonly TruthRecord[]
  scenario: Scenario
  /** Counters read before the run, so rejections from before it are not counted. */
  baseline?: Counters
}

/** Rejections and auth failures by reason, from /metrics. */
export type Counters = Record<string, number>

export interface StockLine {
  sku: string
  truth: number
  gateway: number
  /** Sum over locations of |gateway - truth|. */
  error: number
}
export interface IncidentLine {
  kind: IncidentKind
  rule: string
  incidents: number
  alerted: number
  missed: number
  false: number
  /** Incident start to firing, minutes. */
  delayMin: { p50: number | null; max: number | null }
}
export interface FaultLine {
  kind: FaultKind
  injected: number
  expect: string | null
  counted: number | null
}
export interface CheckReport {
  stock: StockLine[]
  incidents: IncidentLine[]
  faults: FaultLine[]
  ok: boolean
}

const StockResponse = z.object({
  stock: z.array(z.object({ sku: z.string(), total: z.number(), locations: z.array(z.object({ location: z.string(), onHand: z.number() })) })),
})
const AlertsResponse = z.object({ alerts: z.array(z.object({ id: z.string(), rule: z.string(), labels: z.record(z.string(), z.string()) })) })
const AlertResponse = z.object({ history: z.array(z.object({ episode: z.number(), at: z.number(), event: z.string() })) })

async function getJson<T>(opts: CheckOptions, path: string, schema: z.ZodType<T>): Promise<T> {
  const res = await fetch(opts.api + path, { headers: { authorization: `Bearer ${opts.token}` }, signal: AbortSignal.timeout(10_000) })
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`)
  return schema.parse(await res.json())
}

/** `stockyard_rejections_total{reason}` and `stockyard_mqtt_auth_failures_total{reason}`, summed by reason. */
export async function readCounters(api: string, token: string): Promise<Counters> {
  const res = await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`)
  const out: Counters = {}
  for (const line of (await res.text()).split('\n')) {
    const m = /^stockyard_(?:rejections_total|mqtt_auth_failures_total)\{[^}]*reason="([^"]+)"[^}]*\} (\S+)$/.exec(line)
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2])
  }
  return out
}

export async function checkRun(opts: CheckOptions): Promise<CheckReport> {
  const end = opts.truth.find((r): r is Extract<TruthRecord, { type: 'end' }> => r.type === 'end')
  if (!end) throw new Error('the ground truth has no end record: the run did not finish')

  // Stock
  const { stock } = await getJson(opts, '/api/v1/stock', StockResponse)
  const seen = new Map(stock.map((s) => [s.sku, s]))
  const stockLines: StockLine[] = Object.entries(end.stock).map(([sku, locations]) => {
    const g = seen.get(sku)
    const gw = new Map((g?.locations ?? []).map((l) => [l.location, l.onHand]))
    let error = 0
    for (const loc of new Set([...Object.keys(locations), ...gw.keys()])) error += Math.abs((gw.get(loc) ?? 0) - (locations[loc] ?? 0))
    return { sku, truth: Object.values(locations).reduce((a, b) => a + b, 0), gateway: g?.total ?? 0, error }
  })

  // Faults
  const counters = await readCounters(opts.api, opts.token)
  const faultLines: FaultLine[] = (Object.keys(FAULT_EXPECTS) as FaultKind[]).map((kind) => {
    const expect = FAULT_EXPECTS[kind]
    const injected = end.faults[kind] ?? 0
    const counted = expect === null ? null : (counters[expect] ?? 0) - (opts.baseline?.[expect] ?? 0)
    return { kind, injected, expect, counted }
  })

  // Incidents
  const incidentLines: IncidentLine[] = []
  for (const [kind, rule] of Object.entries(opts.scenario.check) as Array<[IncidentKind, string | undefined]>) {
    if (!rule) continue
    incidentLines.push(await matchIncidents(opts, kind, rule, end.t))
  }

  const ok =
    stockLines.every((l) => l.error === 0) &&
    faultLines.every((l) => l.counted === null || l.counted === l.injected) &&
    incidentLines.every((l) => l.missed === 0 && l.false === 0)
  return { stock: stockLines, incidents: incidentLines, faults: faultLines, ok }
}

/** The label an incident of each kind is matched on, in the alert's labels. */
const KEY_LABEL: Record<IncidentKind, string> = { excursion: 'zone', stockout: 'sku', late_shipment: 'shipment', device_death: 'device' }

async function matchIncidents(opts: CheckOptions, kind: IncidentKind, rule: string, runEnd: number): Promise<IncidentLine> {
  const incidents: Array<{ key: string; start: number; end: number }> = []
  for (const r of opts.truth) {
    if (r.type !== 'incident' || r.kind !== kind) continue
    if (r.phase === 'start') incidents.push({ key: r.key, start: r.t, end: runEnd })
    else {
      const open = [...incidents].reverse().find((i) => i.key === r.key && i.end === runEnd)
      if (open) open.end = r.t
    }
  }
  const { alerts } = await getJson(opts, `/api/v1/alerts?rule=${encodeURIComponent(rule)}&limit=1000`, AlertsResponse)
  const fired: Array<{ key: string; at: number; used: boolean }> = []
  for (const a of alerts) {
    const { history } = await getJson(opts, `/api/v1/alerts/${a.id}`, AlertResponse)
    // After the end every device falls silent and the world stops: what fires then is not judged.
    for (const h of history) if (h.event === 'firing' && h.at <= runEnd) fired.push({ key: a.labels[KEY_LABEL[kind]] ?? '', at: h.at, used: false })
  }
  const delays: number[] = []
  let missed = 0
  for (const i of incidents) {
    // Fired from a little before the incident (a window's lag) to a while after it ended (a `for`, a
    // silence period, a delayed last message).
    const match = fired.find((f) => !f.used && f.key === i.key && f.at >= i.start - 10 * MIN && f.at <= i.end + 30 * MIN)
    if (!match) {
      missed++
      continue
    }
    match.used = true
    delays.push(match.at - i.start)
  }
  delays.sort((a, b) => a - b)
  const minutes = (ms: number | undefined): number | null => (ms === undefined ? null : Math.round((ms / MIN) * 10) / 10)
  return {
    kind,
    rule,
    incidents: incidents.length,
    alerted: delays.length,
    missed,
    false: fired.filter((f) => !f.used).length,
    delayMin: { p50: minutes(delays[Math.floor((delays.length - 1) / 2)]), max: minutes(delays[delays.length - 1]) },
  }
}

/** The report as text tables, for the terminal and the test output. */
export function renderReport(r: CheckReport): string {
  const lines: string[] = []
  lines.push('Stock (on hand at the end)', '  sku          truth  gateway  error')
  for (const s of r.stock) lines.push(`  ${s.sku.padEnd(12)} ${String(s.truth).padStart(5)}  ${String(s.gateway).padStart(7)}  ${String(s.error).padStart(5)}`)
  lines.push('Incidents', '  kind           rule                  incidents  alerted  missed  false  delay p50/max (min)')
  for (const i of r.incidents) {
    lines.push(
      `  ${i.kind.padEnd(14)} ${i.rule.padEnd(21)} ${String(i.incidents).padStart(9)}  ${String(i.alerted).padStart(7)}  ${String(i.missed).padStart(6)}  ${String(i.false).padStart(5)}  ${i.delayMin.p50 ?? '-'}/${i.delayMin.max ?? '-'}`,
    )
  }
  lines.push('Faults', '  kind               injected  expected reason     counted')
  for (const f of r.faults) lines.push(`  ${f.kind.padEnd(18)} ${String(f.injected).padStart(8)}  ${(f.expect ?? '(accepted)').padEnd(18)} ${f.counted ?? '-'}`)
  lines.push(r.ok ? 'OK: the gateway saw what happened.' : 'MISMATCH: see the lines above.')
  return lines.join('\n')
}
