/**
 * Warehouse state, rules and alerts on the ingest worker, next to the data: each committed batch is
 * folded into stock and shipments, offered to the rule engine, and the state, alert changes and
 * webhook notifications are written in one transaction after it. The broker thread gets the alert
 * changes to publish on MQTT and the in-process bus.
 *
 * Restart safety: the newest event-log id folded into the state is stored with the state in that same
 * transaction. A crash between a batch's commit and this one loses nothing: at boot the events after
 * that id are read back from the log and folded in before the rules run. Threshold windows are rebuilt
 * from the stored points of their last window. Alert rows keep `for`, firing state and silences.
 */
import { existsSync, mkdirSync, renameSync, watch, writeFileSync, type FSWatcher } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname } from 'node:path'
import type { Database } from 'better-sqlite3'
import type { Config } from '../config/schema.ts'
import type { TimerClock } from '../core/clock.ts'
import { StockyardError } from '../core/errors.ts'
import type { Accepted, PointRecord } from '../core/records.ts'
import type { Logger } from '../core/log.ts'
import { AlertTables } from '../alerts/store.ts'
import { openAnalyticsDb } from '../analytics/db.ts'
import { ForecastBook } from '../analytics/signals.ts'
import type { AlertChange, Silence } from '../alerts/types.ts'
import { WebhookOutbox } from '../alerts/webhook.ts'
import { StockBook, type ScanEvent, type ScanFact } from '../state/stock.ts'
import { ShipmentBook, shipmentFactFromScan, type ShipmentChange, type ShipmentFact } from '../state/shipments.ts'
import { SkuMaster, loadSkuFile } from '../state/skus.ts'
import type { DeviceRegistry, SeriesStore } from '../store/types.ts'
import { loadRulePacks, NOT_A_PACK, PACK_FILE_NAME, parseRulePack, type LoadedPack } from './load.ts'
import { RuleEngine, type ForecastSignals, type ShipmentSnapshot } from './engine/engine.ts'
import { AlertBook } from './engine/lifecycle.ts'
import type { Rule } from './schema.ts'
import { SYSTEM_RULES } from './system.ts'

const WATERMARK = 'state_event_id'
// The rule state's transactions are IMMEDIATE (take the write lock first): some begin with a read, and a
// deferred transaction that reads then writes fails at once with SQLITE_BUSY(_SNAPSHOT), without waiting,
// when the sink worker's connection has committed meanwhile.
const HOUR = 3_600_000
const DAY = 24 * HOUR

/** What the broker thread is told after each commit. */
export interface AlertNotice {
  event: AlertChange['event']
  at: number
  alert: AlertChange['alert']
  /** Targets to deliver to on the broker thread (mqtt, bus); empty when silenced. */
  deliver: Array<'mqtt' | 'bus'>
}

export interface RuntimeDeps {
  db: Database
  config: Readonly<Config>
  series: SeriesStore
  devices: DeviceRegistry
  clock: TimerClock
  log: Logger
  forecasts?: ForecastSignals
  /** Alert changes after they committed. */
  publish(notices: AlertNotice[]): void
}

/** The API's calls into the runtime (run on the worker, answered with the value or a StockyardError). */
export interface RuntimeCalls {
  ack(args: { id: string; by: string }): unknown
  silence(args: { matchers: Record<string, string>; startsAt?: number; endsAt: number; createdBy: string; comment?: string }): Silence
  expireSilence(args: { id: string }): Silence
  putRules(args: { file: string; text: string }): { rules: number; file: string }
  putSku(args: { sku: string; patch: Record<string, unknown> }): unknown
  putSkus(args: { changes: Array<{ sku: string; patch: Record<string, unknown> }> }): { applied: number; refused: Array<{ sku: string; error: string }> }
  reloadRules(): { rules: number }
  describeRules(): RulesDescription
  observeSystem(args: SystemObservation): void
  observeSystemSet(args: { rule: string; firing: Array<Omit<SystemObservation, 'rule' | 'fire'>> }): { firing: number; cleared: number }
  reloadForecasts(args: Record<string, never>): { skus: number }
}

/** A verdict on a built-in alert (rules/system.ts), from the component that watches its condition. */
export interface SystemObservation {
  rule: string
  labels: Record<string, string>
  fire: boolean
  value: number
  extra: Record<string, string>
}

/** The loaded rule packs as plain data (it crosses the worker boundary): `file` is the name under `rules.dir`. */
export interface RulesDescription {
  packs: Array<{ file: string; path: string; rules: readonly Rule[] }>
  /** Errors of the last refused reload (of the directory); empty once a reload succeeds. */
  lastReloadErrors: string[]
}

export class RuleRuntime implements RuntimeCalls {
  readonly stock: StockBook
  readonly shipments: ShipmentBook
  readonly skus: SkuMaster
  readonly book: AlertBook
  readonly engine: RuleEngine
  readonly outbox: WebhookOutbox
  /** The forecast signals: `deps.forecasts` when given (tests), else the analytics runs' stored forecasts (none with analytics off). */
  readonly forecasts: ForecastSignals | undefined
  private analyticsDb: Database | undefined
  private readonly tables: AlertTables
  private packs: readonly LoadedPack[] = []
  private watcher: FSWatcher | undefined
  private reloadTimer: NodeJS.Timeout | undefined
  private upkeep: NodeJS.Timeout | undefined
  private flushQueued = false
  private closed = false
  private lastError: string[] = []
  private readonly saveWatermark
  private readonly maxEventId
  private eventWatermark: number
  /** Webhook notifications dropped because the rule names a webhook that is not configured. */
  droppedNotifications = 0

  constructor(private readonly deps: RuntimeDeps) {
    const { db, config, clock, log } = deps
    this.stock = new StockBook(db)
    this.shipments = new ShipmentBook(db)
    this.skus = new SkuMaster(db, clock)
    this.tables = new AlertTables(db)
    this.outbox = new WebhookOutbox(db, { ...config.notify, log: log.child({ c: 'webhook' }) })
    if (deps.forecasts) this.forecasts = deps.forecasts
    else if (config.analytics.enabled) {
      // The analytics worker's results, read through a connection of this thread's own.
      this.analyticsDb = openAnalyticsDb(config.dataDir, config.store.synchronous)
      this.forecasts = new ForecastBook(this.analyticsDb, (sku) => this.stock.totalFor(sku), clock)
    }
    this.book = new AlertBook(this.tables, clock, { minStateChangeMs: config.rules.minStateChangeMs, onDirty: () => this.queueFlush() })
    this.engine = new RuleEngine({
      clock,
      alerts: this.book,
      stock: { totalFor: (sku, where) => this.stock.totalFor(sku, where), skus: () => new Set(this.stock.keys().map((k) => k.sku)) },
      policy: { get: (sku) => this.skus.get(sku) },
      forecasts: this.forecasts,
      shipments: () => this.shipments.list().map(snapshotOf),
      devices: () => deps.devices.list().map((d) => ({ ...d })),
      allowedLatenessMs: config.rules.allowedLatenessMs,
      log: log.child({ c: 'rules' }),
      systemRules: SYSTEM_RULES,
    })
    this.saveWatermark = db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('${WATERMARK}', ?)`)
    this.maxEventId = db.prepare(`SELECT max(id) AS id FROM events`).pluck()
    const row = db.prepare(`SELECT value FROM meta WHERE key = '${WATERMARK}'`).pluck().get() as string | undefined
    this.eventWatermark = row === undefined ? 0 : Number(row)
  }

  /**
   * Load the SKU master, state and alerts, catch up with the event log, rebuild windows and install
   * the rules. A bad rules directory at boot is fatal (the operator must see it); later reloads are not.
   */
  start(): void {
    const { config } = this.deps
    // No rules directory (a gateway started away from the repo, say) is no rules, not a failed start:
    // PUT /api/v1/rules/{file} creates it. A directory that exists must hold valid packs.
    const dirExists = existsSync(config.rules.dir)
    if (!dirExists) this.deps.log.warn({ dir: config.rules.dir }, 'the rules directory does not exist: running without rules and SKU master')
    const skus = loadSkuFile(config.rules.dir)
    if (!skus.ok) throw new StockyardError('config.invalid', `the SKU master is invalid:\n  ${skus.errors.join('\n  ')}`)
    this.skus.syncFile(skus.entries)
    this.book.load()
    this.catchUp()
    if (this.forecasts instanceof ForecastBook) this.forecasts.load()
    const loaded = dirExists ? loadRulePacks(config.rules.dir) : { ok: true as const, packs: [], rules: [] }
    if (!loaded.ok) throw new StockyardError('config.invalid', `rule packs in ${config.rules.dir} are invalid:\n  ${loaded.errors.join('\n  ')}`)
    this.packs = loaded.packs
    this.install(loaded.rules, true)
    this.outbox.start()
    if (config.rules.watch && dirExists) this.watchDir()
    this.maintain()
    this.upkeep = setInterval(() => this.maintain(), HOUR)
    this.upkeep.unref()
  }

  /**
   * Hourly upkeep: fold stock deltas older than any scan ingest still accepts into their base, and
   * forget resolved alerts and history past `rules.historyDays`.
   */
  maintain(): void {
    const { config, clock } = this.deps
    const now = clock.now()
    try {
      this.stock.compact(now - config.ingest.maxPastAgeMs - HOUR)
      this.deps.db
        .transaction(() => {
          this.stock.flush()
          this.tables.prune(now - config.rules.historyDays * DAY)
        })
        .immediate()
      this.book.forget(now - config.rules.historyDays * DAY)
    } catch (err) {
      this.deps.log.error({ err }, 'rule state upkeep failed; will retry')
    }
  }

  /** Fold one committed batch into the state and the rules, then commit what changed. */
  onBatch(accepted: readonly Accepted[]): void {
    const touched = new Set<string>()
    const seen = new Set<string>()
    let battery: Map<string, number> | undefined
    let events = 0
    // All points of the batch in one call: each rule reads each of its windows once per batch.
    const points: PointRecord[] = []
    for (const a of accepted) for (const p of a.points) points.push(p)
    if (points.length) this.engine.onPoints(points)
    for (const a of accepted) {
      seen.add(a.device)
      events += a.events.length
      for (const e of a.events) {
        const body = e.body
        if (e.kind === 'scan') {
          const fact = scanFact(e.ts, e.device, body)
          for (const c of this.stock.apply(fact)) touched.add(c.sku)
          this.engine.onScan({ ts: e.ts, event: fact.event, sku: fact.sku, location: fact.location, device: e.device, zone: e.zone })
          const ship = shipmentFactFromScan(fact)
          if (ship) this.applyShipment(ship)
        } else if (e.kind === 'shipment') {
          this.applyShipment(trackerFact(e.ts, e.device, body))
        } else if (e.kind === 'status' && typeof body.battery_pct === 'number') {
          ;(battery ??= new Map()).set(a.device, body.battery_pct)
        }
      }
    }
    if (touched.size) this.engine.onStock(touched)
    this.engine.onSeen(seen, battery)
    // A batch of readings that changed no alert (nearly all of them) has nothing to store.
    if (events > 0 || this.book.hasPending()) this.commit()
  }

  // ---------------------------------------------------------------------------------------------
  // Calls from the API
  // ---------------------------------------------------------------------------------------------

  /** A verdict on a built-in alert (rules/system.ts) from the part of the gateway that owns it; committed soon after. */
  observeSystem({ rule, labels, fire, value, extra }: SystemObservation): void {
    const r = SYSTEM_RULES.find((x) => x.id === rule)
    if (!r) throw new StockyardError('request.invalid', `${rule} is not a built-in alert`)
    this.book.observe({ rule: r, labels, verdict: fire ? 'fire' : 'clear', value, threshold: null, extra })
  }

  /** A new analytics run finished: re-read its forecasts and re-evaluate the forecast rules of every SKU they cover. */
  reloadForecasts(): { skus: number } {
    if (!(this.forecasts instanceof ForecastBook)) return { skus: 0 }
    const { current, gone } = this.forecasts.load()
    for (const sku of current) this.engine.onForecast(sku)
    for (const sku of gone) this.engine.onForecast(sku, true)
    this.commit()
    return { skus: current.length }
  }

  /**
   * The whole set of instances of a built-in alert that hold now: each one listed fires, every other
   * active instance of the rule clears (so a restart of the observer cannot leave one firing forever).
   */
  observeSystemSet({ rule, firing }: { rule: string; firing: Array<Omit<SystemObservation, 'rule' | 'fire'>> }): { firing: number; cleared: number } {
    const r = SYSTEM_RULES.find((x) => x.id === rule)
    if (!r) throw new StockyardError('request.invalid', `${rule} is not a built-in alert`)
    const keep = new Set<string>()
    for (const f of firing) {
      const id = this.book.alertId(r, f.labels)
      keep.add(id)
      this.book.observe({ rule: r, id, labels: f.labels, verdict: 'fire', value: f.value, threshold: null, extra: f.extra })
    }
    let cleared = 0
    for (const a of this.book.list()) {
      if (a.rule !== rule || a.state === 'resolved' || keep.has(a.id)) continue
      this.book.observe({ rule: r, id: a.id, labels: a.labels, verdict: 'clear', value: 0, threshold: null, extra: {} })
      cleared++
    }
    return { firing: firing.length, cleared }
  }

  ack({ id, by }: { id: string; by: string }): unknown {
    const a = this.book.ack(id, by)
    this.commit()
    return a
  }

  silence(args: { matchers: Record<string, string>; startsAt?: number; endsAt: number; createdBy: string; comment?: string }): Silence {
    const now = this.deps.clock.now()
    const s: Silence = {
      id: randomBytes(8).toString('hex'),
      matchers: args.matchers,
      startsAt: args.startsAt ?? now,
      endsAt: args.endsAt,
      createdBy: args.createdBy,
      comment: args.comment ?? '',
      createdAt: now,
    }
    this.book.addSilence(s)
    this.commit()
    return s
  }

  expireSilence({ id }: { id: string }): Silence {
    const s = this.book.expireSilence(id)
    this.commit()
    return s
  }

  /**
   * Validate `text` as the pack `file` together with the other packs (ids unique across all), then
   * write it (atomically) and apply it. Refused as a whole with every error; the running rules stay.
   */
  putRules({ file, text }: { file: string; text: string }): { rules: number; file: string } {
    if (!PACK_FILE_NAME.test(file) || NOT_A_PACK.test(file)) {
      throw new StockyardError('request.invalid', `${JSON.stringify(file)} is not a rule pack file name; use letters, digits, _ and -, ending in .yaml`)
    }
    const dir = this.deps.config.rules.dir
    const path = `${dir}/${file}`
    const parsed = parseRulePack(text, path)
    if (!parsed.ok) throw new StockyardError('request.invalid', 'the rule pack is invalid; nothing was changed', { errors: parsed.errors })
    const others = this.packs.filter((p) => p.file !== path)
    const errors: string[] = []
    for (const r of parsed.pack.rules) {
      const owner = others.find((p) => p.rules.some((o) => o.id === r.id))
      if (owner) errors.push(`${path}: rule ${r.id}: id: also defined in ${owner.file}; rule ids must be unique across all rule packs`)
    }
    if (errors.length) throw new StockyardError('request.invalid', 'the rule pack is invalid; nothing was changed', { errors })
    writeAtomically(path, text)
    this.packs = [...others, parsed.pack].sort((a, b) => a.file.localeCompare(b.file))
    const rules = this.packs.flatMap((p) => p.rules)
    this.install(rules, false)
    return { rules: rules.length, file: path }
  }

  putSku({ sku, patch }: { sku: string; patch: Record<string, unknown> }): unknown {
    const entry = this.skus.put(sku, patch)
    this.engine.onStock([sku])
    this.commit()
    return entry
  }

  /**
   * Several SKU policy edits in one transaction (an analytics run's suggestions, `analytics.policy:
   * apply`); each is validated like `putSku`, a refused one is reported and the others are applied.
   */
  putSkus({ changes }: { changes: Array<{ sku: string; patch: Record<string, unknown> }> }): {
    applied: number
    refused: Array<{ sku: string; error: string }>
  } {
    const refused: Array<{ sku: string; error: string }> = []
    const applied: string[] = []
    this.deps.db
      .transaction(() => {
        for (const c of changes) {
          try {
            this.skus.put(c.sku, c.patch)
            applied.push(c.sku)
          } catch (err) {
            refused.push({ sku: c.sku, error: (err as Error).message })
          }
        }
      })
      .immediate()
    this.engine.onStock(applied)
    this.commit()
    return { applied: applied.length, refused }
  }

  /** Re-read the rules directory; a bad pack set is refused as a whole and the running rules stay. */
  reloadRules(): { rules: number } {
    const loaded = loadRulePacks(this.deps.config.rules.dir)
    if (!loaded.ok) {
      this.lastError = loaded.errors
      throw new StockyardError('request.invalid', 'the rule packs are invalid; the running rules were kept', { errors: loaded.errors })
    }
    this.lastError = []
    this.packs = loaded.packs
    this.install(loaded.rules, false)
    return { rules: loaded.rules.length }
  }

  /** The loaded packs and the errors of the last refused reload (for GET /api/v1/rules). */
  describeRules(): RulesDescription {
    return { packs: this.packs.map((p) => ({ file: basename(p.file), path: p.file, rules: p.rules })), lastReloadErrors: [...this.lastError] }
  }

  /** The loaded packs and the last reload error (for GET /api/v1/rules). */
  describe(): { packs: readonly LoadedPack[]; lastReloadErrors: string[] } {
    return { packs: this.packs, lastReloadErrors: this.lastError }
  }

  async close(): Promise<void> {
    this.closed = true
    this.watcher?.close()
    clearTimeout(this.reloadTimer)
    clearInterval(this.upkeep)
    this.engine.close()
    this.book.close()
    await this.outbox.stop()
    this.analyticsDb?.close()
  }

  // ---------------------------------------------------------------------------------------------

  private install(rules: readonly Rule[], boot: boolean): void {
    const missing = new Map<string, string[]>()
    for (const r of rules)
      for (const t of r.notify)
        if (t.startsWith('webhook:') && !Object.hasOwn(this.deps.config.notify.webhooks, t.slice(8))) missing.set(t, [...(missing.get(t) ?? []), r.id])
    for (const [target, ids] of missing) {
      this.deps.log.warn({ target, rules: ids }, `${target} is not configured (notify.webhooks); these rules' notifications to it are dropped`)
    }
    this.engine.setRules(rules)
    if (boot) this.rebuildWindows(rules)
    this.commit()
    this.deps.log.info({ rules: rules.filter((r) => r.enabled).length, packs: this.packs.length }, boot ? 'rules loaded' : 'rules reloaded')
  }

  /** Fold the events committed after the state's watermark (a crash between the two commits). */
  private catchUp(): void {
    const max = (this.maxEventId.get() as number | null) ?? 0
    if (max <= this.eventWatermark) return
    const rows = this.deps.db
      .prepare(`SELECT id, ts, kind, device, body FROM events WHERE id > ? AND kind IN ('scan', 'shipment') ORDER BY id`)
      .iterate(this.eventWatermark) as Iterable<{ id: number; ts: number; kind: string; device: string; body: string }>
    let n = 0
    for (const r of rows) {
      const body = JSON.parse(r.body) as Record<string, unknown>
      if (r.kind === 'scan') {
        const fact = scanFact(r.ts, r.device, body)
        this.stock.apply(fact)
        const ship = shipmentFactFromScan(fact)
        if (ship) this.shipments.apply(ship)
      } else this.shipments.apply(trackerFact(r.ts, r.device, body))
      n++
    }
    this.eventWatermark = max
    this.deps.db
      .transaction(() => {
        this.stock.flush()
        this.shipments.flush()
        this.saveWatermark.run(String(max))
      })
      .immediate()
    if (n) this.deps.log.info({ events: n }, 'warehouse state caught up with the event log')
  }

  /** Feed each threshold rule the stored points of its last window (plus lateness), so a restart does not blind it. */
  private rebuildWindows(rules: readonly Rule[]): void {
    const now = this.deps.clock.now()
    const points: PointRecord[] = []
    const metrics = new Map<string, number>()
    for (const r of rules) {
      if (!r.enabled || r.condition.kind !== 'threshold') continue
      const span = r.condition.window.size + this.deps.config.rules.allowedLatenessMs
      metrics.set(r.condition.metric, Math.max(metrics.get(r.condition.metric) ?? 0, span))
    }
    for (const [metric, span] of metrics) {
      const res = this.deps.series.query({ metric, from: now - span, to: now + 1, agg: 'last' })
      for (const s of res.series) {
        const { metric: m, ...labels } = s.labels
        for (const [ts, value] of s.points) points.push({ metric: m, labels, ts, value })
      }
    }
    points.sort((a, b) => a.ts - b.ts)
    if (points.length) this.engine.onPoints(points)
  }

  private applyShipment(f: ShipmentFact): void {
    const change = this.shipments.apply(f)
    if (change) this.engine.onShipment(snapshotOf(change))
  }

  private queueFlush(): void {
    if (this.flushQueued || this.closed) return
    this.flushQueued = true
    setImmediate(() => {
      this.flushQueued = false
      if (!this.closed) this.commit()
    })
  }

  /** Write state, alerts, notifications and the watermark in one transaction; then hand the changes on. */
  private commit(): void {
    let changes: AlertChange[] = []
    try {
      this.deps.db
        .transaction(() => {
          this.stock.flush()
          this.shipments.flush()
          this.book.flush()
          changes = this.book.takeChanges()
          for (const c of changes) {
            if (!notifies(c)) continue
            for (const t of c.alert.notify) {
              if (!t.startsWith('webhook:')) continue
              const name = t.slice(8)
              if (Object.hasOwn(this.deps.config.notify.webhooks, name)) this.outbox.enqueue(name, payloadOf(c, this.deps.config.site))
              else this.droppedNotifications++
            }
          }
          const max = (this.maxEventId.get() as number | null) ?? 0
          if (max > this.eventWatermark) {
            this.eventWatermark = max
            this.saveWatermark.run(String(max))
          }
        })
        .immediate()
    } catch (err) {
      this.deps.log.error({ err }, 'could not store the rule state; it is rebuilt from the event log at the next start')
      return
    }
    if (!changes.length) return
    this.deps.publish(
      changes.map((c) => ({
        event: c.event,
        at: c.at,
        alert: c.alert,
        deliver: c.alert.notify.filter((t): t is 'mqtt' | 'bus' => (t === 'mqtt' && notifies(c)) || t === 'bus'),
      })),
    )
  }

  private watchDir(): void {
    try {
      this.watcher = watch(this.deps.config.rules.dir, () => {
        clearTimeout(this.reloadTimer)
        // Editors write in several steps (truncate, write, rename): act on the settled file.
        this.reloadTimer = setTimeout(() => {
          try {
            const skus = loadSkuFile(this.deps.config.rules.dir)
            if (skus.ok) this.skus.syncFile(skus.entries)
            else this.deps.log.error({ errors: skus.errors }, 'the SKU master file is invalid; the loaded one stays')
            this.reloadRules()
          } catch (err) {
            this.deps.log.error({ errors: (err as StockyardError).details ?? (err as Error).message }, 'rule packs refused; the running rules stay')
          }
        }, 200)
      })
      this.watcher.on('error', (err) => this.deps.log.warn({ err }, 'watching the rules directory failed; reload with PUT /api/v1/rules'))
    } catch (err) {
      this.deps.log.warn({ err }, 'cannot watch the rules directory; reload with PUT /api/v1/rules')
    }
  }
}

/** Firing and resolved notify (unless silenced); an acknowledgement updates the retained MQTT message. */
function notifies(c: AlertChange): boolean {
  if (c.alert.silencedBy) return false
  return c.event === 'firing' || c.event === 'resolved' || (c.event === 'acknowledged' && c.alert.state === 'firing')
}

/** The JSON body of a notification (webhook and MQTT alike). */
export function payloadOf(c: { event: string; at: number; alert: AlertChange['alert'] }, site: string): Record<string, unknown> {
  const a = c.alert
  return {
    v: 1,
    event: c.event,
    at: new Date(c.at).toISOString(),
    site,
    alert: {
      id: a.id,
      rule: a.rule,
      episode: a.episode,
      state: a.state,
      severity: a.severity,
      labels: a.labels,
      annotations: a.annotations,
      value: a.value,
      threshold: a.threshold,
      activeSince: new Date(a.activeSince).toISOString(),
      firedAt: a.firedAt === null ? null : new Date(a.firedAt).toISOString(),
      resolvedAt: a.resolvedAt === null ? null : new Date(a.resolvedAt).toISOString(),
      ack: a.ack ? { by: a.ack.by, at: new Date(a.ack.at).toISOString() } : null,
    },
  }
}

function scanFact(ts: number, device: string, b: Record<string, unknown>): ScanFact {
  const fact: ScanFact = {
    ts,
    device,
    event: b.event as ScanEvent,
    sku: String(b.sku),
    qty: Number(b.qty),
    location: String(b.location),
    ref: typeof b.ref === 'string' ? b.ref : '',
  }
  if (typeof b.from === 'string') fact.from = b.from
  return fact
}

function trackerFact(ts: number, device: string, b: Record<string, unknown>): ShipmentFact {
  const f: ShipmentFact = { ts, device, shipment: String(b.shipmentId), status: b.status as ShipmentFact['status'], source: 'tracker' }
  if (typeof b.eta === 'number') f.eta = b.eta
  if (typeof b.note === 'string') f.note = b.note
  return f
}

function snapshotOf(s: ShipmentChange | { id: string; status: string; steps: Record<string, number | undefined>; lastUpdate: number }): ShipmentSnapshot {
  return { shipment: 'shipment' in s ? s.shipment : s.id, status: s.status, steps: s.steps, lastUpdate: s.lastUpdate }
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}
