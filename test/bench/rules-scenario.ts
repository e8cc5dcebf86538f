/**
 * The rule-engine scenario of `npm run bench` (issue 3's targets):
 *
 * Two gateways start from one provisioned data dir (copied): one with an empty rules dir, one with
 * the 200-rule pack (rule-pack.ts).
 * 1. Publish-to-alert latency: on the rules gateway, the generator at a fixed rate (QoS 1, readings no
 *    rule fires on); once the longest per-point window is full (steady state: every point also evicts),
 *    a probe device fires and clears the probe rule now and then (probe.ts).
 * 2. Ingest cost of rules: after a warm-up each, max-ingest runs alternate between the two gateways
 *    (A B B A …), so drift and other load hit both alike; the ratio is with-rules over without,
 *    centre against centre (median; mean of the middle two for an even count).
 * 3. For scale: bare aedes under the same fixed-rate load, a probe publish -> delivery to a subscriber.
 * Every gateway and broker is stopped before this returns, whatever fails; failures become notes.
 */
import { cpSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { alertProbes, deliveryProbes, type ProbeResult } from './probe.ts'
import { num } from './report.ts'
import { BENCH_ZONES, benchRulesDir, POINT_WINDOW_MAX_MS, PROBE } from './rule-pack.ts'
import { fmtRate, measure, WARMUP_MS, type BenchConfig, type RunFigures } from './scenarios.ts'
import { startAedes } from './targets/aedes.ts'
import { gatewayDataDir, hashSecret, launchGateway, provisionGateway } from './targets/gateway.ts'
import type { Started, Target } from './targets/types.ts'

export interface RulesBenchConfig {
  /** Max-ingest runs per gateway (interleaved). */
  ratioRuns: number
  /** The probes are spread over this long, once the rules' windows are full. */
  probeSpanMs: number
  probes: number
}

export const TARGETS = { alertP99Ms: 20, ratio: 0.9 }

export interface RuleFigures {
  rules: number
  mix: string
  /** Max-ingest runs without and with rules, in the order they ran. */
  base: RunFigures[]
  withRules: RunFigures[]
  ratio: number | null
  alert: ProbeResult | null
  /** The fixed-rate load on the rules gateway during the probes. */
  background: RunFigures | null
  aedesLabel: string
  aedes: ProbeResult | null
  aedesBackground: RunFigures | null
  /** Rules gateway counters over the whole scenario. */
  counters: Record<string, number> | null
  notes: string[]
}

/** Middle value; the mean of the middle two for an even count. */
export function centre(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length === 0 ? 0 : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/**
 * Run the scenario. `track` is told of every running target (for the bench's signal handler).
 * @example const f = await ruleEngineBench(cfg, { ratioRuns: 2, probeSpanMs: 12_000, probes: 100 }, 'bench', log, tracked)
 */
export async function ruleEngineBench(
  cfg: BenchConfig,
  rc: RulesBenchConfig,
  site: string,
  log: (s: string) => void,
  track: { add(t: Target): void; delete(t: Target): void },
): Promise<RuleFigures> {
  const pack = benchRulesDir(cfg.connections)
  const f: RuleFigures = {
    rules: pack.rules,
    mix: pack.mix,
    base: [],
    withRules: [],
    ratio: null,
    alert: null,
    background: null,
    aedesLabel: 'bare aedes',
    aedes: null,
    aedesBackground: null,
    counters: null,
    notes: [],
  }
  const started: Target[] = []
  const launch = async (what: string, start: () => Promise<Started>): Promise<Target | null> => {
    const s = await start()
    if (!s.ok) {
      log(`rules: ${what}: ${s.reason}`)
      f.notes.push(`${what}: ${s.reason}`)
      return null
    }
    started.push(s.target)
    track.add(s.target)
    return s.target
  }
  const stopAll = async (): Promise<void> => {
    for (const t of started.splice(0)) {
      await t.stop()
      track.delete(t)
    }
  }

  const dirA = gatewayDataDir()
  const dirB = gatewayDataDir()
  try {
    log(`rules: provisioning ${cfg.connections} devices in ${BENCH_ZONES.join(', ')} and ${PROBE.device}; ${pack.rules} rules in ${pack.dir}`)
    const prov = await provisionGateway(dirA, site, cfg.connections, { zones: BENCH_ZONES, extra: [{ id: PROBE.device, zone: PROBE.zone }] })
    if (!prov.ok) {
      f.notes.push(prov.reason)
      return f
    }
    cpSync(dirA, dirB, { recursive: true })
    const password = randomBytes(18).toString('base64url')
    const internal = { username: 'bench-alerts', passwordHash: await hashSecret(password), subscribe: ['stockyard/v1/+/alerts/#'] }
    const base = await launch('gateway without rules', () => launchGateway(dirA, site, prov.provisioned, { label: 'gateway, no rules' }))
    const rules = await launch(`gateway with ${pack.rules} rules`, () =>
      launchGateway(dirB, site, prov.provisioned, {
        rulesDir: pack.dir,
        config: { mqtt: { internalClients: [internal] } },
        label: `gateway, ${pack.rules} rules`,
      }),
    )
    if (!rules) return f
    const before = await rules.counters()

    // Publish -> alert first: the fixed-rate load also fills the rules' windows before the max-ingest runs.
    const probe = prov.provisioned.extra[0]!
    const probes = await alertProbes(rules.port, site, { probe, subscriber: { username: internal.username, password }, ...PROBE })
    try {
      log(`  ${rules.label}: ${cfg.latencyRate} msg/s for ${(POINT_WINDOW_MAX_MS + rc.probeSpanMs) / 1000 + 2} s; probes once the windows are full`)
      const probed = await probing(rules, cfg, rc, POINT_WINDOW_MAX_MS, (plan) => probes.run(plan))
      f.background = probed.background
      f.alert = probed.result
      const l = probed.result.latencyMs
      log(
        `  publish -> alert: p50 ${l.p50.toFixed(2)} p95 ${l.p95.toFixed(2)} p99 ${l.p99.toFixed(2)} max ${l.max.toFixed(2)} ms over ${l.samples} probes, ${probed.result.missed} missed; ` +
          `background ${fmtRate(probed.background.load.rate)} msg/s, ack p99 ${probed.background.load.latencyMs.p99.toFixed(2)} ms`,
      )
    } finally {
      await probes.close()
    }

    if (base) {
      for (const t of [base, rules]) {
        const w = await measure(t, cfg, { kind: 'max' }, WARMUP_MS)
        log(`  ${t.label}: warm-up (not recorded) ${fmtRate(w.load.rate)} msg/s`)
      }
      for (let i = 0; i < 2 * rc.ratioRuns; i++) {
        // A B B A A B …: each pair swaps its order.
        const t = i % 4 === 0 || i % 4 === 3 ? base : rules
        const r = await measure(t, cfg, { kind: 'max' }, cfg.ingestMs)
        ;(t === base ? f.base : f.withRules).push(r)
        log(
          `  ${t.label}: max ingest ${fmtRate(r.load.rate)} msg/s, broker ${r.brokerCpuCores.toFixed(2)} cores, rss ${Math.round(r.brokerRssPeakMb)} MiB, other ${r.otherCpuCores.toFixed(2)} cores`,
        )
      }
      f.ratio = centre(f.withRules.map((r) => r.load.rate)) / centre(f.base.map((r) => r.load.rate))
      log(`  with / without rules: ${f.ratio.toFixed(3)}`)
    }
    await sleep(2500) // rule counters reach /metrics every 2 s
    const after = await rules.counters()
    f.counters = after && Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before?.[k] ?? 0)]))
    await stopAll()

    const aedes = await launch('bare aedes', () => startAedes(cfg.connections, site))
    if (aedes) {
      f.aedesLabel = aedes.label
      const echo = await deliveryProbes(aedes.port, site, PROBE.device)
      try {
        const probed = await probing(aedes, cfg, rc, 0, (plan) => echo.run(plan))
        f.aedes = probed.result
        f.aedesBackground = probed.background
        const l = probed.result.latencyMs
        log(`  ${aedes.label} publish -> delivery: p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} ms over ${l.samples} probes`)
      } finally {
        await echo.close()
      }
    }
    return f
  } catch (err) {
    log(`rules: failed: ${(err as Error).message}`)
    f.notes.push(`rule engine scenario failed: ${(err as Error).message.split('\n')[0]}`)
    return f
  } finally {
    await stopAll()
    // Stopped gateways removed their own dirs; these are left only when something failed before a start.
    for (const d of [dirA, dirB, pack.dir]) rmSync(d, { recursive: true, force: true })
  }
}

type Plan = { port: number; site: string; count: number; spanMs: number; timeoutMs: number }

/**
 * The fixed-rate load on `t` for `fillMs` + the probe span + 2 s, the probes spread over the span from
 * `fillMs` + 1 s on. Readings are stamped per 16 messages (about every 25 ms per device) instead of the
 * generator's default 2,048, so event time advances as it does with real devices.
 */
async function probing(
  t: Target,
  cfg: BenchConfig,
  rc: RulesBenchConfig,
  fillMs: number,
  run: (plan: Plan) => Promise<ProbeResult>,
): Promise<{ background: RunFigures; result: ProbeResult }> {
  const holder: { p?: Promise<ProbeResult> } = {}
  const plan: Plan = { port: t.port, site: t.site, count: rc.probes, spanMs: rc.probeSpanMs, timeoutMs: 3000 }
  const background = await measure(t, cfg, { kind: 'rate', msgPerSec: cfg.latencyRate }, fillMs + rc.probeSpanMs + 2000, {
    chunkSize: PROBE_CHUNK,
    onStart: () => {
      holder.p = sleep(fillMs + 1000).then(() => run(plan))
    },
  })
  if (!holder.p) throw new Error('the generator never started')
  return { background, result: await holder.p }
}

/** Messages per `ts` stamp of the fixed-rate background. */
const PROBE_CHUNK = 16

const ms = (n: number): string => num(n, 2)
const pass = (ok: boolean): string => (ok ? '**PASS**' : '**FAIL**')

/** The rule engine's table and notes, for the report. */
export function renderRules(f: RuleFigures, cfg: BenchConfig, rc: RulesBenchConfig): string[] {
  const r = cfg.latencyRate.toLocaleString('en-US')
  const a = f.alert?.latencyMs
  const e = f.aedes?.latencyMs
  const dash = '–'
  const lat = (label: string, pick: (l: NonNullable<typeof a>) => number, target: string, verdict: string): string =>
    `| Publish → alert ${label} @ ${r} msg/s, ms | ${a && a.samples ? ms(pick(a)) : dash} | ${e && e.samples ? ms(pick(e)) : dash} | ${target} | ${verdict} |`
  const rate = (runs: RunFigures[]): string => {
    if (!runs.length) return dash
    const xs = runs.map((x) => x.load.rate)
    return runs.length > 1 ? `${fmtRate(centre(xs))} (${fmtRate(Math.min(...xs))}–${fmtRate(Math.max(...xs))})` : fmtRate(xs[0]!)
  }
  const p99ok = a && a.samples && f.alert!.missed === 0 ? pass(a.p99 <= TARGETS.alertP99Ms) : a ? `**FAIL** (${f.alert!.missed} missed)` : dash
  const runs = f.withRules.length
  const rows = [
    `| Rule engine, ${f.rules} rules | stockyard gateway | ${f.aedesLabel}: publish → delivery (for scale) | target | result |`,
    '|---|---:|---:|---:|---|',
    lat('p50', (l) => l.p50, '', ''),
    lat('p95', (l) => l.p95, '', ''),
    lat('p99', (l) => l.p99, `≤ ${TARGETS.alertP99Ms}`, p99ok),
    lat('max', (l) => l.max, '', ''),
    `| Max QoS 1 ingest with the ${f.rules} rules, msg/s (${runs > 1 ? `centre of ${runs} [min–max]` : 'one run'}) | ${rate(f.withRules)} | | | |`,
    `| Max QoS 1 ingest without rules (empty rules dir, runs interleaved), msg/s | ${rate(f.base)} | | | |`,
    `| With rules / without | ${f.ratio === null ? dash : `${f.ratio.toFixed(2)}×`} | | ≥ ${TARGETS.ratio.toFixed(2)}× | ${f.ratio === null ? dash : pass(f.ratio >= TARGETS.ratio)} |`,
  ]
  const notes: string[] = [...f.notes]
  if (f.alert) {
    const rs = f.alert.resolveMs
    notes.push(
      `probes: ${f.alert.sent} sent, ${f.alert.missed} waits missed (> 3 s)` +
        (rs && rs.samples ? `; clearing publish → resolved: p50 ${ms(rs.p50)}, p99 ${ms(rs.p99)}, max ${ms(rs.max)} ms` : ''),
    )
  }
  if (f.background) {
    const b = f.background
    notes.push(
      `background on the rules gateway: ${fmtRate(b.load.rate)} msg/s achieved, ack latency p50 ${ms(b.load.latencyMs.p50)} / p99 ${ms(b.load.latencyMs.p99)} ms, ` +
        `broker ${b.brokerCpuCores.toFixed(2)} cores, other processes ${b.otherCpuCores.toFixed(2)} cores`,
    )
  }
  if (f.aedesBackground && f.aedes)
    notes.push(`bare aedes probes: ${f.aedes.sent} sent, ${f.aedes.missed} missed; background ${fmtRate(f.aedesBackground.load.rate)} msg/s`)
  const perMsg = (runs: RunFigures[]): string => `${num(centre(runs.map((x) => (x.brokerCpuCores * 1e6) / Math.max(1, x.load.rate))), 1)} µs`
  const rss = (runs: RunFigures[]): number => Math.max(...runs.map((x) => x.brokerRssPeakMb))
  if (f.base.length && f.withRules.length) {
    const other = Math.max(...[...f.base, ...f.withRules].map((x) => x.otherCpuCores))
    notes.push(
      `at max ingest: gateway CPU per message ${perMsg(f.withRules)} with rules vs ${perMsg(f.base)} without; peak RSS ${Math.round(rss(f.withRules))} vs ${Math.round(rss(f.base))} MiB; ` +
        `other processes used up to ${other.toFixed(2)} cores during these runs`,
    )
  }
  if (f.counters) {
    const c = f.counters
    notes.push(
      `rules gateway over the scenario: ${fmtRate(c.stockyard_rule_evaluations ?? 0)} rule evaluations, ${c.stockyard_rule_errors ?? 0} errors, ${c.stockyard_rule_late_points ?? 0} late points, ` +
        `alert changes ${
          Object.entries(c)
            .filter(([k]) => k.startsWith('stockyard_alert_changes_total'))
            .map(([k, v]) => `${/event="([^"]*)"/.exec(k)?.[1] ?? k} ${v}`)
            .join(', ') || 'none'
        }`,
    )
  }
  const method =
    `Rule engine: ${f.rules} rules (${f.mix}); the generator's ${cfg.connections} devices in zones ${BENCH_ZONES.join(', ')}. ` +
    `Publish → alert: ${r} msg/s background (readings stamped every ${PROBE_CHUNK} messages per device, ~25 ms), the first ${POINT_WINDOW_MAX_MS / 1000} s fill the rules' windows, ` +
    `then ${rc.probes} probes spread over ${rc.probeSpanMs / 1000} s; the probe device \`${PROBE.device}\` publishes temperature_c ${PROBE.fire} (rule \`${PROBE.rule}\`: max over ${PROBE.windowMs} ms > 30, \`for: 0s\`), ` +
    `and a subscriber (an internal client) times from just before that PUBLISH to the \`firing\` message on \`stockyard/v1/{site}/alerts/${PROBE.rule}/…\`; then it clears (${PROBE.clear}) and waits for \`resolved\`. ` +
    `Bare aedes: same background, a probe PUBLISH → its delivery to a subscriber. Ratio: two gateways started from one data dir (one with an empty rules dir), after the probe run (whose load fills the rules' windows), ` +
    `a ${WARMUP_MS / 1000} s warm-up each, then ${rc.ratioRuns} × ${cfg.ingestMs / 1000} s max-ingest runs each, interleaved (A B B A …); the windows hold what arrived since the start.`
  return [method, '', ...rows, '', ...notes.map((n) => `- ${n}`)]
}
