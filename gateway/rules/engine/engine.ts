/**
 * The rule engine: turns what arrives (points, scans, shipment changes, device traffic) and what the
 * clock says into verdicts for the alert lifecycle. It is event-driven: a point is offered only to the
 * threshold rules of its metric, a stock change only to the stock rules of its SKU, and time-based
 * conditions (silence, SLA deadlines, stalls, absence, window ends) each arm one timer on the injected
 * clock for the moment their answer can change, instead of polling every rule.
 *
 * Each rule runs inside its own guard: an exception is counted against the rule and logged (once a
 * minute per rule) and the other rules go on.
 */
import type { TimerClock } from '../../core/clock.ts'
import type { PointRecord } from '../../core/records.ts'
import type { Verdict } from '../../alerts/types.ts'
import type { Condition } from '../conditions/index.ts'
import type { Op } from '../fields.ts'
import { matchGlob } from '../glob.ts'
import type { Rule } from '../schema.ts'
import { compileRule, type ActiveRule } from './compile.ts'
import type { AlertBook, LifecycleRule } from './lifecycle.ts'
import { nextOpen, windowAt } from './schedule.ts'
import { SeriesWindow, type WindowAgg, type WindowResult } from './window.ts'

type CondOf<K extends Condition['kind']> = Extract<Condition, { kind: K }>

/** On-hand stock as the engine reads it. */
export interface StockView {
  /** On hand of `sku` summed over the locations `where` accepts. */
  totalFor(sku: string, where?: (location: string) => boolean): number
  /** Every SKU with stock state. */
  skus(): Iterable<string>
}

/** The SKU master's policy numbers. */
export interface PolicyView {
  get(sku: string): { reorder_point: number; safety_stock: number; unit_weight_kg?: number | undefined; bin?: string | undefined } | undefined
}

/** A shipment as the engine reads it. */
export interface ShipmentSnapshot {
  shipment: string
  status: string
  steps: Partial<Record<string, number>>
  lastUpdate: number
}

export interface DeviceSnapshot {
  id: string
  kind: string
  site: string
  zone: string
  disabled: boolean
  /** Last message (or connection) time, or null if never seen. */
  lastSeen: number | null
  createdAt: number
}

/**
 * Forecast signals per SKU, supplied by the analytics module (a constant source in tests). `get`
 * returns undefined when there is no forecast for the SKU yet; the engine is told of new numbers
 * through `RuleEngine.onForecast`.
 */
export interface ForecastSignals {
  get(sku: string, signal: 'days_of_cover' | 'stockout_within', horizonMs?: number): number | undefined
  skus(): Iterable<string>
}

export interface EngineDeps {
  clock: TimerClock
  alerts: AlertBook
  stock: StockView
  policy: PolicyView
  forecasts?: ForecastSignals
  /** Known shipments (at boot and after a reload). */
  shipments(): Iterable<ShipmentSnapshot>
  /** Registered devices with their last-seen times. */
  devices(): Iterable<DeviceSnapshot>
  allowedLatenessMs: number
  log: { warn(obj: object, msg: string): void }
  /** Built-in rules (rules/system.ts) kept in the lifecycle beside the packs' rules; observed by their owners, not here. */
  systemRules?: readonly LifecycleRule[]
}

export interface RuleStats {
  evaluations: number
  errors: number
  latePoints: number
}

const STEPS = ['released', 'picked', 'packed', 'loaded', 'departed', 'delivered']

function compare(v: number, op: Op, t: number): boolean {
  switch (op) {
    case '>':
      return v > t
    case '>=':
      return v >= t
    case '<':
      return v < t
    case '<=':
      return v <= t
  }
}

/** fire past `value`; clear on the safe side of `clear` (or of `value` when there is no clear); hold in between. */
function verdictOf(v: number, op: Op, value: number, clear: number | undefined): Verdict {
  if (compare(v, op, value)) return 'fire'
  if (clear === undefined) return 'clear'
  const above = op === '>' || op === '>='
  return (above ? v < clear : v > clear) ? 'clear' : 'hold'
}

function iso(t: number | null | undefined): string {
  return t === null || t === undefined ? '' : new Date(t).toISOString()
}

interface Timer {
  at: number
  cancel: () => void
}

/**
 * The window of one series for one window (type, size, every), shared by every threshold rule with
 * that window that selects the series, whatever its aggregate: 40 rules taking the avg, min, max or
 * rate of temperature over 10 s fold each point once, not 40 times (p95 keeps a window of its own).
 * Kept across reloads while some rule still uses it, so a new or edited rule starts with the history
 * already there.
 */
interface SharedWindow {
  metric: string
  /** The series key (site, zone, device, sku). */
  series: string
  labels: Record<string, string>
  window: SeriesWindow
  /** Tumbling or sliding with every: closes on a timer too. */
  timed: boolean
  /** The rules that read it; rebuilt at each `setRules`. */
  readers: WindowReader[]
  /** Queued for evaluation at the end of the current batch. */
  queued: boolean
}

interface WindowReader {
  st: ThresholdState
  stats: RuleStats
  /** The alert id for this rule and series (rule labels may change on a reload, so made per rule set). */
  id: string
}

interface ThresholdState {
  rule: ActiveRule
  cond: CondOf<'threshold'>
  /** `${type}/${size}/${every}/${basic|p95}`: which windows it can share. */
  spec: string
  /** Whether the rule selects a series, by series key. */
  selected: Map<string, boolean>
  /** `{clear}` for the annotations, made once. */
  extra: Readonly<Record<string, string>>
}

function specOf(c: CondOf<'threshold'>): string {
  return `${c.window.type}/${c.window.size}/${c.window.every ?? ''}/${c.agg === 'p95' ? 'p95' : 'basic'}`
}

/** What a shared window computes besides its count: every aggregate but p95, so any rule can read it. */
const BASIC: readonly Exclude<WindowAgg, 'p95'>[] = ['avg', 'sum', 'min', 'max', 'rate']

/** The reader's aggregate from a shared window's result; undefined when it has none (a rate over one point). */
function aggOf(result: WindowResult, agg: WindowAgg): number | undefined {
  return agg === 'p95' || agg === 'count' ? result.value : result.values?.[agg]
}

interface DeviceKey {
  key: string
  labels: Record<string, string>
  id: string
  selected: boolean
}

export class RuleEngine {
  private rules: ActiveRule[] = []
  private thresholds = new Map<string, ThresholdState[]>()
  /** Every window, by metric + series key + spec. */
  private windows = new Map<string, SharedWindow>()
  /** metric -> series key -> the windows of the rules that select the series (built as series come). */
  private index = new Map<string, Map<string, SharedWindow[]>>()
  /** Windows that close on time (tumbling, sliding with every), for the window timer. */
  private timed: SharedWindow[] = []
  private readonly batch: SharedWindow[] = []
  private byKind = new Map<string, ActiveRule[]>()
  private readonly stats = new Map<string, RuleStats>()
  private readonly lastLog = new Map<string, number>()
  private readonly timers = new Map<string, Timer>()
  private readonly devices = new Map<string, DeviceSnapshot>()
  private readonly shipments = new Map<string, ShipmentSnapshot>()
  /** Last scale estimate (units) per SKU. */
  private readonly scale = new Map<string, { ts: number; units: number }>()
  /** Newest matching event time per absence rule. */
  private readonly lastMatch = new Map<string, number>()
  private windowTimer: Timer | undefined
  /** See deviceKey(); keyed by the compiled rule, so a reload starts afresh. */
  private deviceKeys = new WeakMap<ActiveRule, Map<string, DeviceKey>>()
  private totalLate = 0

  constructor(private readonly deps: EngineDeps) {}

  /**
   * Install a validated rule set: compile, hand it to the lifecycle (alerts of rules whose identity
   * is unchanged keep their state), then evaluate everything that is state rather than stream.
   */
  setRules(rules: readonly Rule[]): void {
    const previous = new Map(this.rules.map((r) => [r.id, r]))
    const active = rules.filter((r) => r.enabled).map(compileRule)
    this.rules = active
    this.byKind = new Map()
    this.thresholds = new Map()
    for (const r of active) {
      const kind = r.rule.condition.kind
      this.byKind.set(kind, [...(this.byKind.get(kind) ?? []), r])
      if (!this.stats.has(r.id)) this.stats.set(r.id, { evaluations: 0, errors: 0, latePoints: 0 })
      if (r.rule.condition.kind === 'threshold') {
        const cond = r.rule.condition
        const state: ThresholdState = { rule: r, cond, spec: specOf(cond), selected: new Map(), extra: { clear: String(cond.clear ?? cond.value) } }
        this.thresholds.set(cond.metric, [...(this.thresholds.get(cond.metric) ?? []), state])
      }
    }
    for (const id of this.stats.keys()) if (!active.some((r) => r.id === id)) this.stats.delete(id)
    for (const [key, t] of this.timers) {
      t.cancel()
      this.timers.delete(key)
    }
    this.deps.alerts.setRules(
      [...active, ...(this.deps.systemRules ?? [])],
      (id) => previous.get(id)?.identity === active.find((r) => r.id === id)?.identity || !previous.has(id),
    )
    this.rebuildIndex()
    this.refreshDevices()
    this.shipments.clear()
    for (const s of this.deps.shipments()) this.shipments.set(s.shipment, s)
    this.evaluateAll()
  }

  /** Re-evaluate every state-based condition (after boot, a reload or a policy change). */
  evaluateAll(): void {
    for (const sku of this.deps.stock.skus()) this.evaluateStock(sku)
    for (const s of this.shipments.values()) this.evaluateShipment(s)
    for (const d of this.devices.values()) this.evaluateSilence(d)
    for (const r of this.byKind.get('absence') ?? []) this.guard(r, () => this.evaluateAbsence(r))
    if (this.deps.forecasts) for (const sku of this.deps.forecasts.skus()) this.onForecast(sku)
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs
  // ---------------------------------------------------------------------------------------------

  /**
   * Points of one committed batch, in arrival order. Each point is folded into the windows of the
   * rules selecting its series; each rule then looks once per series at the end of the batch (a few
   * ms of traffic), not once per point: a value that crosses and comes back inside one batch is not
   * seen, and the cost of a rule does not grow with the point rate.
   */
  onPoints(points: readonly PointRecord[]): void {
    const batch = this.batch
    let earliestDue = Infinity
    // The points of one reading share one labels object: make its key once.
    let labels: PointRecord['labels'] | undefined
    let key = ''
    for (const p of points) {
      if ((p.metric === 'units' || p.metric === 'weight_kg') && p.labels.sku !== '') this.onScale(p)
      const byKey = this.index.get(p.metric)
      if (!byKey) continue
      const l = p.labels
      if (l !== labels) {
        labels = l
        key = `${l.site}\0${l.zone}\0${l.device}\0${l.sku}`
      }
      const windows = byKey.get(key) ?? this.windowsFor(byKey, key, p)
      for (const w of windows) {
        if (!w.window.fold(p.ts, p.value)) {
          for (const r of w.readers) r.stats.latePoints++
          this.totalLate++
          continue
        }
        if (w.timed) {
          const due = w.window.nextDue()
          if (due !== undefined && due < earliestDue) earliestDue = due
        }
        if (!w.queued) {
          w.queued = true
          batch.push(w)
        }
      }
    }
    for (const w of batch) {
      w.queued = false
      const result = w.window.take()
      for (const r of w.readers) {
        r.stats.evaluations++
        const value = result && aggOf(result, r.st.cond.agg)
        if (value === undefined) continue
        try {
          this.thresholdResult(r, w, value)
        } catch (err) {
          this.failed(r.st.rule, err)
        }
      }
    }
    batch.length = 0
    if (earliestDue < (this.windowTimer?.at ?? Infinity)) this.armWindowTimer()
  }

  /** Stock of these SKUs changed (a scan, a count, a policy edit). */
  onStock(skus: Iterable<string>): void {
    for (const sku of skus) {
      this.evaluateStock(sku)
      // Forecast signals are played against on-hand stock: a pick moves them too.
      this.onForecast(sku)
    }
  }

  /** A scan event, for absence rules. */
  onScan(e: { ts: number; event: string; sku: string; location: string; device: string; zone: string }): void {
    for (const r of this.byKind.get('absence') ?? []) {
      const c = r.rule.condition as CondOf<'absence'>
      if (c.event !== e.event || !r.selects({ location: e.location, device: e.device, zone: e.zone, sku: e.sku })) continue
      if (e.ts > (this.lastMatch.get(r.id) ?? -Infinity)) this.lastMatch.set(r.id, e.ts)
      this.guard(r, () => this.evaluateAbsence(r))
    }
  }

  onShipment(s: ShipmentSnapshot): void {
    this.shipments.set(s.shipment, s)
    this.evaluateShipment(s)
  }

  /** Devices that sent something just now; `battery` for those that reported it. */
  onSeen(deviceIds: Iterable<string>, battery?: ReadonlyMap<string, number>): void {
    const now = this.deps.clock.now()
    for (const id of deviceIds) {
      let d = this.devices.get(id)
      if (!d) {
        this.refreshDevices()
        d = this.devices.get(id)
        if (!d) continue
      }
      d.lastSeen = now
      this.evaluateSilence(d)
    }
    if (!battery) return
    for (const [id, pct] of battery) {
      const d = this.devices.get(id)
      if (d) for (const r of this.byKind.get('battery_low') ?? []) this.guard(r, () => this.batteryOf(r, d, pct))
    }
  }

  /**
   * New forecast numbers for a SKU. `gone`: the SKU no longer has a forecast (a failed fit, demand
   * pruned), so its forecast alerts clear rather than stay as they were.
   */
  onForecast(sku: string, gone = false): void {
    const f = this.deps.forecasts
    if (!f) return
    for (const r of this.byKind.get('forecast') ?? []) {
      const c = r.rule.condition as CondOf<'forecast'>
      if (!matchGlob(c.sku, sku)) continue
      this.guard(r, () => {
        const labels = { sku, location: c.location }
        if (gone) return this.deps.alerts.observe({ rule: r, labels, verdict: 'clear', value: 0, threshold: c.value })
        const v = f.get(sku, c.signal, c.horizon)
        if (v === undefined) return
        this.deps.alerts.observe({
          rule: r,
          labels,
          verdict: verdictOf(v, c.op, c.value, c.clear),
          value: v,
          threshold: c.value,
        })
      })
    }
  }

  /** Re-read the device registry (a device was added, disabled or enabled). */
  refreshDevices(): void {
    const seen = new Map([...this.devices].map(([id, d]) => [id, d.lastSeen]))
    this.devices.clear()
    for (const d of this.deps.devices()) {
      const last = seen.get(d.id)
      this.devices.set(d.id, {
        ...d,
        lastSeen: Math.max(last ?? -Infinity, d.lastSeen ?? -Infinity) === -Infinity ? null : Math.max(last ?? -Infinity, d.lastSeen ?? -Infinity),
      })
    }
  }

  ruleStats(): ReadonlyMap<string, RuleStats> {
    return this.stats
  }

  /** Points refused by every window as later than the allowed lateness, since start. */
  latePoints(): number {
    return this.totalLate
  }

  close(): void {
    for (const t of this.timers.values()) t.cancel()
    this.timers.clear()
    this.windowTimer?.cancel()
    this.windowTimer = undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Threshold
  // ---------------------------------------------------------------------------------------------

  /** The windows of a series not seen since the last `setRules`: selection decided once per rule, windows found or made. */
  private windowsFor(byKey: Map<string, SharedWindow[]>, key: string, p: PointRecord): SharedWindow[] {
    const windows: SharedWindow[] = []
    for (const st of this.thresholds.get(p.metric) ?? []) {
      let selected = st.selected.get(key)
      if (selected === undefined) st.selected.set(key, (selected = st.rule.selects(p.labels as unknown as Record<string, string>)))
      if (!selected) continue
      const id = `${p.metric}\0${key}\0${st.spec}`
      let w = this.windows.get(id)
      if (!w) {
        const c = st.cond
        const labels = { metric: p.metric, site: p.labels.site, zone: p.labels.zone, device: p.labels.device, sku: p.labels.sku }
        const window = new SeriesWindow({
          type: c.window.type,
          size: c.window.size,
          every: c.window.every,
          ...(c.agg === 'p95' ? { agg: 'p95' } : { agg: 'count', also: BASIC }),
          latenessMs: this.deps.allowedLatenessMs,
        })
        w = { metric: p.metric, series: key, labels, window, timed: c.window.type === 'tumbling' || c.window.every !== undefined, readers: [], queued: false }
        this.windows.set(id, w)
      }
      if (w.readers.length === 0) {
        windows.push(w)
        if (w.timed) this.timed.push(w)
      }
      w.readers.push({ st, stats: this.stats.get(st.rule.id)!, id: this.deps.alerts.alertId(st.rule, w.labels) })
    }
    byKey.set(key, windows)
    return windows
  }

  /**
   * After `setRules`: attach the new rules to the windows of every series seen so far (a window no
   * rule reads any more is dropped); series seen later are attached at their first point.
   */
  private rebuildIndex(): void {
    const seen = [...this.windows.values()].map((w) => ({ metric: w.metric, series: w.series, labels: w.labels }))
    for (const w of this.windows.values()) w.readers = []
    this.index = new Map([...this.thresholds.keys()].map((metric) => [metric, new Map<string, SharedWindow[]>()]))
    this.timed = []
    for (const { metric, series, labels } of seen) {
      const byKey = this.index.get(metric)
      if (byKey && !byKey.has(series)) this.windowsFor(byKey, series, { metric, labels } as unknown as PointRecord)
    }
    for (const [id, w] of this.windows) if (w.readers.length === 0) this.windows.delete(id)
    this.armWindowTimer()
  }

  private thresholdResult(r: WindowReader, w: SharedWindow, value: number): void {
    const c = r.st.cond
    this.deps.alerts.observe({
      rule: r.st.rule,
      labels: w.labels,
      id: r.id,
      verdict: verdictOf(value, c.op, c.value, c.clear),
      value,
      threshold: c.value,
      extra: r.st.extra,
    })
  }

  /** One timer for the earliest window end among all series, so idle series still get their last window evaluated. */
  private armWindowTimer(): void {
    let due = Infinity
    for (const w of this.timed) {
      const d = w.window.nextDue()
      if (d !== undefined && d < due) due = d
    }
    if (this.windowTimer?.at === due) return
    this.windowTimer?.cancel()
    this.windowTimer = undefined
    if (due === Infinity) return
    const cancel = this.deps.clock.setTimer(due, () => {
      this.windowTimer = undefined
      const now = this.deps.clock.now()
      for (const w of this.timed) {
        const results = w.window.advance(now)
        for (const r of w.readers) {
          r.stats.evaluations++
          const value = results.length ? aggOf(results[results.length - 1]!, r.st.cond.agg) : undefined
          if (value === undefined) continue
          try {
            this.thresholdResult(r, w, value)
          } catch (err) {
            this.failed(r.st.rule, err)
          }
        }
      }
      this.armWindowTimer()
    })
    this.windowTimer = { at: due, cancel }
  }

  // ---------------------------------------------------------------------------------------------
  // Stock, discrepancy
  // ---------------------------------------------------------------------------------------------

  private evaluateStock(sku: string): void {
    const policy = this.deps.policy.get(sku)
    for (const r of this.byKind.get('stock') ?? []) {
      const c = r.rule.condition as CondOf<'stock'>
      if (!matchGlob(c.sku, sku)) continue
      this.guard(r, () => {
        const level = (l: number | 'reorder_point' | 'safety_stock'): number | undefined => (typeof l === 'number' ? l : policy?.[l])
        const below = level(c.below)
        const clear = c.clear === undefined ? below : level(c.clear)
        if (below === undefined || clear === undefined) return
        const onHand = this.deps.stock.totalFor(sku, c.location === '*' ? undefined : (loc) => matchGlob(c.location, loc))
        const verdict: Verdict = onHand < below ? 'fire' : onHand >= clear ? 'clear' : 'hold'
        this.deps.alerts.observe({ rule: r, labels: { sku, location: c.location }, verdict, value: onHand, threshold: below, extra: { clear: String(clear) } })
      })
    }
    this.evaluateDiscrepancy(sku)
  }

  private onScale(p: PointRecord): void {
    const sku = p.labels.sku
    let units = p.value
    if (p.metric === 'weight_kg') {
      const w = this.deps.policy.get(sku)?.unit_weight_kg
      if (!w) return
      units = p.value / w
    }
    const prev = this.scale.get(sku)
    if (prev && prev.ts > p.ts) return
    this.scale.set(sku, { ts: p.ts, units })
    this.evaluateDiscrepancy(sku)
  }

  private evaluateDiscrepancy(sku: string): void {
    const scale = this.scale.get(sku)
    if (!scale) return
    const bin = this.deps.policy.get(sku)?.bin
    for (const r of this.byKind.get('stock_discrepancy') ?? []) {
      const c = r.rule.condition as CondOf<'stock_discrepancy'>
      if (!matchGlob(c.sku, sku)) continue
      const location = bin ?? c.location
      if (bin !== undefined && !matchGlob(c.location, bin)) continue
      this.guard(r, () => {
        const scans = this.deps.stock.totalFor(sku, location === '*' ? undefined : (loc) => matchGlob(location, loc))
        const units = Math.round(scale.units)
        const diff = Math.abs(units - scans)
        const allowed = Math.max(c.tolerance.units ?? 0, ((c.tolerance.pct ?? 0) / 100) * Math.abs(scans))
        this.deps.alerts.observe({
          rule: r,
          labels: { sku, location },
          verdict: diff > allowed ? 'fire' : 'clear',
          value: diff,
          threshold: allowed,
          extra: { scale: String(units), scans: String(scans) },
        })
      })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Shipments
  // ---------------------------------------------------------------------------------------------

  private evaluateShipment(s: ShipmentSnapshot): void {
    const now = this.deps.clock.now()
    const reached = STEPS.indexOf(s.status)
    for (const r of this.byKind.get('shipment_sla') ?? []) {
      const c = r.rule.condition as CondOf<'shipment_sla'>
      this.guard(r, () => {
        const start = s.steps[c.step.from]
        if (start === undefined) return
        const key = `${r.id}\0${s.shipment}`
        const labels = { shipment: s.shipment, step: `${c.step.from}->${c.step.to}` }
        const deadline = start + c.within
        const done = s.steps[c.step.to] !== undefined || reached >= STEPS.indexOf(c.step.to)
        const fireAt = deadline - (c.at_risk_before ?? 0)
        const extra = { deadline: iso(deadline) }
        if (done || now < fireAt) {
          this.deps.alerts.observe({ rule: r, labels, verdict: 'clear', value: now - start, threshold: c.within, extra })
          if (!done) this.arm(key, fireAt, () => this.evaluateShipment(this.shipments.get(s.shipment) ?? s))
          else this.disarm(key)
          return
        }
        this.disarm(key)
        this.deps.alerts.observe({ rule: r, labels, verdict: 'fire', value: now - start, threshold: c.within, extra })
      })
    }
    for (const r of this.byKind.get('shipment_stalled') ?? []) {
      const c = r.rule.condition as CondOf<'shipment_stalled'>
      this.guard(r, () => {
        const key = `${r.id}\0${s.shipment}`
        const watched = (c.status as readonly string[]).includes(s.status)
        const due = s.lastUpdate + c.no_update_for
        const labels = { shipment: s.shipment, status: s.status }
        const extra = { last_update: iso(s.lastUpdate) }
        if (!watched || now < due) {
          // The status label is part of the identity: clear the alert of every watched status.
          for (const status of c.status)
            this.deps.alerts.observe({
              rule: r,
              labels: { shipment: s.shipment, status },
              verdict: 'clear',
              value: now - s.lastUpdate,
              threshold: c.no_update_for,
              extra,
            })
          if (watched) this.arm(key, due, () => this.evaluateShipment(this.shipments.get(s.shipment) ?? s))
          else this.disarm(key)
          return
        }
        this.disarm(key)
        this.deps.alerts.observe({ rule: r, labels, verdict: 'fire', value: now - s.lastUpdate, threshold: c.no_update_for, extra })
      })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Devices
  // ---------------------------------------------------------------------------------------------

  private evaluateSilence(d: DeviceSnapshot): void {
    const now = this.deps.clock.now()
    for (const r of this.byKind.get('device_silent') ?? []) {
      const c = r.rule.condition as CondOf<'device_silent'>
      const k = this.deviceKey(r, c.device_kind, d)
      if (!k.selected) continue
      this.stats.get(r.id)!.evaluations++
      try {
        const since = d.lastSeen ?? d.createdAt
        const due = since + c.silent_for
        if (d.disabled || now < due) {
          // Every batch of every device comes here: do nothing unless there is an alert to clear or a timer to arm.
          if (this.deps.alerts.matters(k.id, 'clear')) this.silenceVerdict(r, k, d, 'clear', now - since)
          // Armed once per silence period, not once per message: when it rings, the real last-seen decides.
          if (!d.disabled && !this.timers.has(k.key)) this.arm(k.key, due, () => this.evaluateSilence(this.devices.get(d.id) ?? d))
          continue
        }
        this.disarm(k.key)
        this.silenceVerdict(r, k, d, 'fire', now - since)
      } catch (err) {
        this.failed(r, err)
      }
    }
  }

  private silenceVerdict(r: ActiveRule, k: DeviceKey, d: DeviceSnapshot, verdict: Verdict, silentFor: number): void {
    const c = r.rule.condition as CondOf<'device_silent'>
    this.deps.alerts.observe({ rule: r, labels: k.labels, id: k.id, verdict, value: silentFor, threshold: c.silent_for, extra: { last_seen: iso(d.lastSeen) } })
  }

  /** A device's timer key, labels, alert id and selection under one rule, made once per rule set (devices report on every batch). */
  private deviceKey(r: ActiveRule, kind: string | undefined, d: DeviceSnapshot): DeviceKey {
    let byDevice = this.deviceKeys.get(r)
    if (!byDevice) this.deviceKeys.set(r, (byDevice = new Map()))
    let k = byDevice.get(d.id)
    if (!k || k.labels.kind !== d.kind || k.labels.site !== d.site || k.labels.zone !== d.zone) {
      const labels = { device: d.id, kind: d.kind, site: d.site, zone: d.zone }
      k = { key: `${r.id}\0${d.id}`, labels, id: this.deps.alerts.alertId(r, labels), selected: this.deviceSelected(r, kind, d) }
      byDevice.set(d.id, k)
    }
    return k
  }

  private batteryOf(r: ActiveRule, d: DeviceSnapshot, pct: number): void {
    const c = r.rule.condition as CondOf<'battery_low'>
    if (!this.deviceSelected(r, c.device_kind, d)) return
    const verdict: Verdict = pct < c.below ? 'fire' : pct >= (c.clear ?? c.below) ? 'clear' : 'hold'
    this.deps.alerts.observe({
      rule: r,
      labels: { device: d.id, kind: d.kind, site: d.site, zone: d.zone },
      verdict,
      value: pct,
      threshold: c.below,
      extra: { clear: String(c.clear ?? c.below) },
    })
  }

  private deviceSelected(r: ActiveRule, kind: string | undefined, d: DeviceSnapshot): boolean {
    return (kind === undefined || kind === d.kind) && r.selects({ site: d.site, zone: d.zone, device: d.id })
  }

  // ---------------------------------------------------------------------------------------------
  // Absence
  // ---------------------------------------------------------------------------------------------

  private evaluateAbsence(r: ActiveRule): void {
    const c = r.rule.condition as CondOf<'absence'>
    const now = this.deps.clock.now()
    const labels = { event: c.event }
    const last = this.lastMatch.get(r.id)
    const extra = { last_event: iso(last) }
    const again = (): void => this.guard(r, () => this.evaluateAbsence(r))
    const w = windowAt(c.schedule, now)
    if (!w) {
      this.deps.alerts.observe({ rule: r, labels, verdict: 'clear', value: 0, threshold: c.every, extra })
      const open = nextOpen(c.schedule, now)
      if (open !== undefined) this.arm(r.id, open + c.every, again)
      return
    }
    const since = Math.max(w.open, last ?? -Infinity)
    const due = since + c.every
    if (now >= due) {
      this.deps.alerts.observe({ rule: r, labels, verdict: 'fire', value: now - since, threshold: c.every, extra })
      this.arm(r.id, w.close, again)
    } else {
      this.deps.alerts.observe({ rule: r, labels, verdict: 'clear', value: now - since, threshold: c.every, extra })
      this.arm(r.id, Math.min(due, w.close), again)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Plumbing
  // ---------------------------------------------------------------------------------------------

  private arm(key: string, at: number, fn: () => void): void {
    const t = this.timers.get(key)
    if (t?.at === at) return
    t?.cancel()
    const cancel = this.deps.clock.setTimer(at, () => {
      this.timers.delete(key)
      fn()
    })
    this.timers.set(key, { at, cancel })
  }

  private disarm(key: string): void {
    this.timers.get(key)?.cancel()
    this.timers.delete(key)
  }

  /** Run one rule's evaluation; a throw is counted and logged (at most once a minute per rule), never passed on. */
  private guard(r: ActiveRule, fn: () => void): void {
    const s = this.stats.get(r.id)
    if (s) s.evaluations++
    try {
      fn()
    } catch (err) {
      this.failed(r, err)
    }
  }

  private failed(r: ActiveRule, err: unknown): void {
    const s = this.stats.get(r.id)
    if (s) s.errors++
    const now = Date.now()
    if ((this.lastLog.get(r.id) ?? 0) + 60_000 <= now) {
      this.lastLog.set(r.id, now)
      this.deps.log.warn({ err, rule: r.id }, 'rule evaluation failed; the other rules go on')
    }
  }
}
