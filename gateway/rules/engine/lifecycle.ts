/**
 * The alert lifecycle: verdicts in, state changes out.
 *
 *   (quiet) --fire--> pending --fire held for `for`--> firing --clear held for `clear_for`--> resolved
 *                        \--clear or hold--> cancelled (back to quiet; it never fired)
 *
 * - `for` counts from the first `fire` verdict and needs `fire` without a break: any other verdict
 *   while pending cancels it. A timer on the injected clock fires it at `activeSince + for` if the
 *   last verdict is still `fire`, so a steady condition fires without needing a new message.
 * - While firing, only `clear` counts towards resolving; `hold` (the hysteresis band between the
 *   firing and the clear level) keeps it firing and restarts `clear_for`.
 * - Flap damping: a state change within `minStateChangeMs` of the previous one waits until then, and
 *   happens only if the verdict still calls for it. A signal flapping around its threshold therefore
 *   gives one alert, not many.
 * - Everything that a restart must keep is in the alert row: `activeSince` (a restart does not reset
 *   a running `for`), `state` (a firing alert does not fire again), the verdict and `clearSince`.
 *   `restore()` re-arms the timers from them.
 *
 * The book never writes by itself: changed alerts and history are written by `flush()` inside the
 * caller's transaction, and the changes to notify are handed over by `takeChanges()` after it committed.
 */
import { createHash } from 'node:crypto'
import type { TimerClock } from '../../core/clock.ts'
import type { AlertTables } from '../../alerts/store.ts'
import type { Alert, AlertChange, AlertEvent, Severity, Silence, Verdict } from '../../alerts/types.ts'
import { StockyardError } from '../../core/errors.ts'
import { matchGlob } from '../glob.ts'
import { renderTemplate, type Segment } from '../template.ts'

/** What the lifecycle needs of a rule. */
export interface LifecycleRule {
  id: string
  forMs: number
  clearForMs: number
  severity: Severity
  labels: Readonly<Record<string, string>>
  annotations: ReadonlyArray<[name: string, segments: Segment[]]>
  notify: readonly string[]
}

/** One evaluation of a rule's condition for one label set. */
export interface Observation {
  rule: LifecycleRule
  /** The condition kind's labels (the rule's own labels are added here). */
  labels: Readonly<Record<string, string>>
  verdict: Verdict
  value: number
  threshold: number | null
  /** Kind-specific placeholders (deadline, last_seen, scale, ...), already formatted. */
  extra?: Readonly<Record<string, string>>
  /** `alertId(rule, labels)`, when the caller keeps it across observations of the same series. */
  id?: string
}

export interface LifecycleOptions {
  minStateChangeMs: number
  /** Called on every change, so changes made outside a caller's batch (timers, forecasts) are flushed soon; cheap and idempotent. */
  onDirty(): void
}

/** 16 hex digits of sha256 over the rule id and the sorted labels. */
export function fingerprint(rule: string, labels: Readonly<Record<string, string>>): string {
  const h = createHash('sha256').update(rule)
  for (const k of Object.keys(labels).sort()) h.update(`\0${k}\0${labels[k]}`)
  return h.digest('hex').slice(0, 16)
}

function formatNumber(v: number | null): string {
  if (v === null) return ''
  return String(Math.round(v * 100) / 100)
}

function silenceMatches(s: Silence, a: Alert, now: number): boolean {
  if (now < s.startsAt || now >= s.endsAt) return false
  for (const [k, pattern] of Object.entries(s.matchers)) {
    const v = k === 'rule' ? a.rule : a.labels[k]
    if (v === undefined || !matchGlob(pattern, v)) return false
  }
  return true
}

export class AlertBook {
  private readonly alerts = new Map<string, Alert>()
  private readonly rules = new Map<string, LifecycleRule>()
  private readonly extras = new Map<string, Readonly<Record<string, string>>>()
  private readonly timers = new Map<string, { at: number; cancel: () => void }>()
  /** The resolved alert a new pending episode replaced, put back if that episode is cancelled. */
  private readonly replaced = new Map<string, Alert>()
  private readonly silences = new Map<string, Silence>()
  private readonly silenceTimers = new Map<string, () => void>()
  private readonly fpCache = new Map<string, string>()
  private dirty = new Set<string>()
  private deleted = new Set<string>()
  private history: Array<{ change: AlertChange; detail: Record<string, unknown> }> = []
  private changes: AlertChange[] = []
  private dirtySilences: Silence[] = []

  constructor(
    private readonly tables: AlertTables,
    private readonly clock: TimerClock,
    private readonly opts: LifecycleOptions,
  ) {}

  /** Load stored alerts and silences; timers are armed by `restore()` once the rules are known. */
  load(): void {
    for (const a of this.tables.loadAlerts()) this.alerts.set(a.id, a)
    for (const s of this.tables.loadSilences()) this.addSilenceInternal(s)
  }

  /**
   * Install the rule set (at boot and on each reload). Alerts of rules that are gone or whose
   * identity changed (`keep` says which stay) are resolved; the others keep their state and timers.
   */
  setRules(rules: readonly LifecycleRule[], keep: (ruleId: string) => boolean = () => true): void {
    this.rules.clear()
    for (const r of rules) this.rules.set(r.id, r)
    this.fpCache.clear()
    for (const a of this.alerts.values()) {
      if (a.state === 'resolved') continue
      const rule = this.rules.get(a.rule)
      if (rule && keep(a.rule)) {
        // Armed, not taken now: at boot the evaluators refresh the verdicts first.
        const due = this.due(a)
        if (due !== undefined) this.armAt(a.id, due)
        continue
      }
      this.cancelTimer(a.id)
      const reason = rule ? 'rule changed' : 'rule removed'
      if (a.state === 'pending') this.cancel(a, reason)
      else this.transition(a, 'resolved', { reason })
    }
  }

  /** Feed one verdict. */
  observe(o: Observation): void {
    const id = o.id ?? this.alertId(o.rule, o.labels)
    const a = this.alerts.get(id)
    // The common case by far: nothing is wrong and nothing was. No time, no extras, no allocation.
    if (o.verdict !== 'fire' && (!a || a.state === 'resolved')) {
      if (a) a.verdict = o.verdict
      return
    }
    const now = this.clock.now()
    if (o.extra) this.extras.set(id, o.extra)
    if (!a || a.state === 'resolved') {
      if (a) a.verdict = o.verdict
      if (a && now < a.lastChange + this.opts.minStateChangeMs) {
        // Damped: remember the value and look again when the quiet time is over.
        a.value = o.value
        this.armAt(a.id, a.lastChange + this.opts.minStateChangeMs)
        return
      }
      this.start(id, o, now, a)
      return
    }
    a.value = o.value
    a.threshold = o.threshold
    const verdictChanged = a.verdict !== o.verdict
    a.verdict = o.verdict
    if (a.state === 'pending') {
      if (o.verdict !== 'fire') this.cancel(a, 'condition no longer holds')
      else this.check(a)
      return
    }
    // firing
    if (o.verdict === 'clear') {
      if (a.clearSince === null) {
        a.clearSince = now
        this.markDirty(a)
      }
      this.check(a)
    } else if (a.clearSince !== null) {
      a.clearSince = null
      this.cancelTimer(a.id)
      this.markDirty(a)
    } else if (verdictChanged) {
      this.cancelTimer(a.id)
    }
  }

  /** The id (fingerprint) of the alert a rule raises for these condition labels; valid until the next `setRules`. */
  alertId(rule: LifecycleRule, labels: Readonly<Record<string, string>>): string {
    const key = `${rule.id}\0${Object.values(labels).join('\0')}`
    let id = this.fpCache.get(key)
    if (id === undefined) {
      id = fingerprint(rule.id, { ...labels, ...rule.labels })
      this.fpCache.set(key, id)
    }
    return id
  }

  /** Whether `observe` with this verdict for alert `id` would change anything; callers on a hot path skip it otherwise. */
  matters(id: string, verdict: Verdict): boolean {
    if (verdict === 'fire') return true
    const a = this.alerts.get(id)
    return a !== undefined && (a.state !== 'resolved' || a.verdict !== verdict)
  }

  /** Acknowledge the current episode of an alert. */
  ack(id: string, by: string): Alert {
    const a = this.alerts.get(id)
    if (!a) throw new StockyardError('not_found', `no alert ${id}`)
    if (a.state === 'resolved') throw new StockyardError('conflict', `alert ${id} is resolved; there is nothing to acknowledge`)
    if (a.ack) return a
    a.ack = { by, at: this.clock.now() }
    this.emit(a, 'acknowledged', { by })
    return a
  }

  /** Add a silence; alerts it matches send no notifications until it ends. */
  addSilence(s: Silence): Silence {
    this.addSilenceInternal(s)
    this.dirtySilences.push(s)
    this.resilence()
    return s
  }

  /** End a silence now. */
  expireSilence(id: string): Silence {
    const s = this.silences.get(id)
    if (!s) throw new StockyardError('not_found', `no silence ${id}`)
    const now = this.clock.now()
    const ended = { ...s, endsAt: Math.min(s.endsAt, now) }
    this.silences.set(id, ended)
    this.dirtySilences.push(ended)
    this.resilence()
    return ended
  }

  get(id: string): Alert | undefined {
    return this.alerts.get(id)
  }

  list(): Alert[] {
    return [...this.alerts.values()]
  }

  /** Whether `flush` or `takeChanges` has anything to do. */
  hasPending(): boolean {
    return this.dirty.size + this.deleted.size + this.history.length + this.dirtySilences.length + this.changes.length > 0
  }

  /** Write what changed since the last flush (call inside the caller's transaction). */
  flush(): void {
    for (const id of this.deleted) this.tables.delete(id)
    for (const id of this.dirty) {
      const a = this.alerts.get(id)
      if (a) this.tables.save(a)
    }
    for (const h of this.history) this.tables.record(h.change, h.detail)
    for (const s of this.dirtySilences) this.tables.saveSilence(s)
    this.dirty = new Set()
    this.deleted = new Set()
    this.history = []
    this.dirtySilences = []
  }

  /** The changes since the last call, to deliver after the flush committed. */
  takeChanges(): AlertChange[] {
    const c = this.changes
    this.changes = []
    return c
  }

  /** Forget resolved alerts older than `before` in memory (the tables are pruned by the caller). */
  forget(before: number): void {
    for (const a of this.alerts.values()) if (a.state === 'resolved' && (a.resolvedAt ?? 0) < before) this.alerts.delete(a.id)
  }

  close(): void {
    for (const t of this.timers.values()) t.cancel()
    for (const cancel of this.silenceTimers.values()) cancel()
    this.timers.clear()
    this.silenceTimers.clear()
  }

  private start(id: string, o: Observation, now: number, previous: Alert | undefined): void {
    const rule = o.rule
    const a: Alert = {
      id,
      rule: rule.id,
      episode: (previous?.episode ?? 0) + 1,
      state: 'pending',
      severity: rule.severity,
      labels: { ...o.labels, ...rule.labels },
      annotations: {},
      value: o.value,
      threshold: o.threshold,
      verdict: 'fire',
      activeSince: now,
      firedAt: null,
      resolvedAt: null,
      clearSince: null,
      lastChange: now,
      ack: null,
      silencedBy: null,
      notify: [...rule.notify],
      updatedAt: now,
    }
    if (previous) this.replaced.set(id, previous)
    this.alerts.set(id, a)
    this.deleted.delete(id)
    this.silenceOf(a, now)
    this.emit(a, 'pending')
    this.check(a)
  }

  /** When the next state change is due on the current verdict, or undefined if none is. Damping holds back resolves and re-fires, never a first fire. */
  private due(a: Alert): number | undefined {
    const rule = this.rules.get(a.rule)
    if (!rule) return undefined
    const quiet = a.lastChange + this.opts.minStateChangeMs
    if (a.state === 'pending' && a.verdict === 'fire') return a.activeSince + rule.forMs
    if (a.state === 'firing' && a.verdict === 'clear' && a.clearSince !== null) return Math.max(a.clearSince + rule.clearForMs, quiet)
    if (a.state === 'resolved' && a.verdict === 'fire') return quiet
    return undefined
  }

  /** Take the state change that is due now, or arm a timer for when it will be. */
  private check(a: Alert): void {
    const rule = this.rules.get(a.rule)
    const due = this.due(a)
    if (!rule || due === undefined) return
    const now = this.clock.now()
    if (now < due) {
      this.armAt(a.id, due)
      return
    }
    this.cancelTimer(a.id)
    if (a.state === 'pending') this.transition(a, 'firing')
    else if (a.state === 'firing') this.transition(a, 'resolved')
    else {
      const { value, threshold } = a
      this.start(a.id, { rule, labels: a.labels, verdict: 'fire', value: value ?? 0, threshold }, now, a)
    }
  }

  private transition(a: Alert, to: 'firing' | 'resolved', detail: Record<string, unknown> = {}): void {
    const now = this.clock.now()
    a.state = to
    a.lastChange = now
    this.replaced.delete(a.id)
    if (to === 'firing') a.firedAt = now
    else {
      a.resolvedAt = now
      a.clearSince = null
      this.cancelTimer(a.id)
    }
    this.emit(a, to, detail)
  }

  private cancel(a: Alert, reason: string): void {
    this.cancelTimer(a.id)
    this.record(a, 'cancelled', { reason })
    const previous = this.replaced.get(a.id)
    this.replaced.delete(a.id)
    if (previous) {
      this.alerts.set(a.id, previous)
      this.markDirty(previous)
    } else {
      this.alerts.delete(a.id)
      this.dirty.delete(a.id)
      this.deleted.add(a.id)
    }
    this.changes.push({ event: 'cancelled', at: this.clock.now(), alert: { ...a } })
    this.opts.onDirty()
  }

  private emit(a: Alert, event: AlertEvent, detail: Record<string, unknown> = {}): void {
    const now = this.clock.now()
    a.updatedAt = now
    if (event === 'pending' || event === 'firing' || event === 'resolved') this.render(a)
    this.markDirty(a)
    this.record(a, event, detail)
    this.changes.push({ event, at: now, alert: { ...a, labels: { ...a.labels }, annotations: { ...a.annotations } } })
    this.opts.onDirty()
  }

  private record(a: Alert, event: AlertEvent, detail: Record<string, unknown>): void {
    this.history.push({ change: { event, at: this.clock.now(), alert: { ...a } }, detail })
  }

  private render(a: Alert): void {
    const rule = this.rules.get(a.rule)
    if (!rule) return
    const values = new Map<string, string>([
      ['value', formatNumber(a.value)],
      ['threshold', formatNumber(a.threshold)],
      ['since', new Date(a.activeSince).toISOString()],
      ['rule.id', a.rule],
      ['rule.severity', a.severity],
    ])
    for (const [k, v] of Object.entries(a.labels)) values.set(`labels.${k}`, v)
    for (const [k, v] of Object.entries(this.extras.get(a.id) ?? {})) values.set(k, v)
    a.annotations = Object.fromEntries(rule.annotations.map(([name, segments]) => [name, renderTemplate(segments, values)]))
  }

  private markDirty(a: Alert): void {
    this.dirty.add(a.id)
  }

  private armAt(id: string, at: number): void {
    if (this.timers.get(id)?.at === at) return
    this.cancelTimer(id)
    const cancel = this.clock.setTimer(at, () => {
      this.timers.delete(id)
      const a = this.alerts.get(id)
      if (!a) return
      this.check(a)
      this.opts.onDirty()
    })
    this.timers.set(id, { at, cancel })
  }

  private cancelTimer(id: string): void {
    const t = this.timers.get(id)
    if (t) {
      t.cancel()
      this.timers.delete(id)
    }
  }

  private addSilenceInternal(s: Silence): void {
    this.silences.set(s.id, s)
    this.silenceTimers.get(s.id)?.()
    const now = this.clock.now()
    const next = now < s.startsAt ? s.startsAt : s.endsAt
    if (next > now) {
      this.silenceTimers.set(
        s.id,
        this.clock.setTimer(next, () => {
          this.silenceTimers.delete(s.id)
          this.addSilenceInternal(s)
          this.resilence()
          this.opts.onDirty()
        }),
      )
    }
  }

  /** Recompute which alerts are silenced, announcing each change. */
  private resilence(): void {
    const now = this.clock.now()
    for (const a of this.alerts.values()) {
      if (a.state === 'resolved') continue
      const before = a.silencedBy
      this.silenceOf(a, now)
      if (a.silencedBy !== before) this.emit(a, a.silencedBy ? 'silenced' : 'unsilenced', { silence: a.silencedBy ?? before })
    }
  }

  private silenceOf(a: Alert, now: number): void {
    a.silencedBy = null
    for (const s of this.silences.values()) {
      if (silenceMatches(s, a, now)) {
        a.silencedBy = s.id
        return
      }
    }
  }
}
