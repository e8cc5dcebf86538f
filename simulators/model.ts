/**
 * The simulated warehouse: a deterministic model in simulated time. It knows the truth (what is on
 * each shelf, how warm each room is, which truck is late) and produces what the devices would publish,
 * faults included. It does no I/O and reads no clock: `advance(to)` moves it to simulated time `to`
 * and returns what the devices send before then, in send order; the ground truth goes to `truth`.
 * The same scenario, seed and start give the same publications and byte-identical truth.
 *
 * Physics: picks follow each SKU's demand and take what the bin holds (a pick on an empty bin fails);
 * replenishment is ordered at the reorder point and arrives after the lead time (received at the dock,
 * then put away); rooms drift to their setpoint, doors warm them, a failed compressor lets them drift
 * to the outside temperature; trucks load late by a normal spread; shelf scales are noisy and drift.
 */
import { Random } from './random.ts'
import type { Scenario, SkuSpec, ZoneSpec } from './scenario.ts'

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
export const DOCK = 'DOCK-1'

export type DeviceKindName = 'env' | 'scale' | 'scanner' | 'tracker'
export interface SimDevice {
  id: string
  kind: DeviceKindName
  zone: string
}

export type FaultKind =
  'duplicate' | 'out_of_order' | 'malformed' | 'invalid' | 'oversized' | 'clock_skew' | 'foreign_topic' | 'wrong_credentials' | 'dropout' | 'reconnect_storm'
/** The rejection (or auth failure) reason the gateway should count for each fault; null: it is accepted. */
export const FAULT_EXPECTS: Record<FaultKind, string | null> = {
  duplicate: 'seq.duplicate',
  out_of_order: null,
  malformed: 'payload.not_json',
  invalid: 'payload.invalid',
  oversized: 'payload.too_large',
  clock_skew: 'ts.future',
  foreign_topic: 'topic.not_allowed',
  wrong_credentials: 'bad_password',
  dropout: null,
  reconnect_storm: null,
}
export type IncidentKind = 'excursion' | 'stockout' | 'late_shipment' | 'device_death'

/** One thing the driver does at simulated time `at`: publish, or a connection event. */
export type Action =
  | { at: number; type: 'publish'; device: string; kind: string; payload: Record<string, unknown> | string; topicDevice?: string }
  | { at: number; type: 'offline' | 'online' | 'bad_login'; device: string }

export type TruthRecord =
  | { type: 'start'; scenario: string; seed: number; start: number; end: number; devices: SimDevice[]; skus: string[] }
  | { type: 'stock'; t: number; sku: string; location: string; onHand: number }
  | { type: 'incident'; t: number; kind: IncidentKind; phase: 'start' | 'end'; key: string; labels: Record<string, string> }
  | { type: 'fault'; t: number; kind: FaultKind; device: string; expect: string | null }
  | { type: 'pick_failed'; t: number; sku: string; qty: number }
  | { type: 'end'; t: number; stock: Record<string, Record<string, number>>; faults: Record<string, number>; incidents: Record<string, number> }

interface ZoneState {
  spec: ZoneSpec
  temp: number
  /** Since when the air has been above the limit (null: it is not). */
  aboveSince: number | null
  excursion: boolean
  rnd: Random
}

/**
 * An excursion is air above the zone's limit for this long without a break; a door left open for a
 * minute is not one. The check's rule (avg over 5 m above the limit for 10 m) needs about as long.
 */
export const EXCURSION_MIN_MS = 15 * MIN

interface SkuState {
  spec: SkuSpec
  rnd: Random
  onHand: Map<string, number>
  onOrder: boolean
  demandDay: number
  demandToday: boolean
  out: boolean
}

interface Pending {
  at: number
  order: number
  run: () => void
}

/** The devices a scenario has, in a fixed order. */
export function devicesOf(s: Scenario): SimDevice[] {
  const ambient = s.zones.find((z) => z.kind === 'ambient')?.id ?? s.zones[0]!.id
  const dock = s.zones.find((z) => z.kind === 'dock')?.id ?? ambient
  const out: SimDevice[] = s.zones.map((z) => ({ id: `env-${z.id}`, kind: 'env', zone: z.id }))
  for (const k of s.skus) if (k.scale) out.push({ id: `scale-${k.sku.toLowerCase()}`, kind: 'scale', zone: ambient })
  for (let i = 1; i <= s.devices.scanners; i++) out.push({ id: `scanner-${i}`, kind: 'scanner', zone: i === 1 ? ambient : dock })
  if (s.shipments.perDay > 0) out.push({ id: 'tracker-1', kind: 'tracker', zone: dock })
  return out
}

export class WarehouseModel {
  readonly devices: SimDevice[]
  readonly start: number
  readonly end: number
  private t: number
  private readonly rnd: Random
  private readonly zones: ZoneState[]
  private readonly skus: SkuState[]
  private readonly pending: Pending[] = []
  private order = 0
  /** Made but not yet handed out: `advance` returns those due before its `to`. */
  private queue: Action[] = []
  private readonly seq = new Map<string, number>()
  private readonly dead = new Set<string>()
  private readonly offlineUntil = new Map<string, number>()
  private readonly battery = new Map<string, number>()
  private readonly faultCounts: Record<string, number> = {}
  private readonly incidentCounts: Record<string, number> = {}
  private finished = false
  private shipmentNo = 0
  private orderNo = 0
  private readonly pickScanner: string
  private readonly dockScanner: string

  constructor(
    private readonly s: Scenario,
    readonly seed: number,
    start: number,
    private readonly truth: (r: TruthRecord) => void,
  ) {
    this.start = start
    this.end = start + s.duration
    this.t = start
    this.rnd = new Random(seed)
    this.devices = devicesOf(s)
    const scanners = this.devices.filter((d) => d.kind === 'scanner')
    this.pickScanner = scanners[0]!.id
    this.dockScanner = scanners[scanners.length - 1]!.id
    this.zones = s.zones.map((spec) => ({ spec, temp: spec.setpoint, aboveSince: null, excursion: false, rnd: this.rnd.fork(`zone:${spec.id}`) }))
    this.skus = s.skus.map((spec) => ({
      spec,
      rnd: this.rnd.fork(`sku:${spec.sku}`),
      onHand: new Map([[spec.bin, spec.initial]]),
      onOrder: false,
      demandDay: -1,
      demandToday: true,
      out: false,
    }))
    const batteries = this.rnd.fork('battery')
    for (const d of this.devices) this.battery.set(d.id, Math.round(batteries.uniform(80, 100)))
    truth({ type: 'start', scenario: s.name, seed, start, end: this.end, devices: this.devices, skus: s.skus.map((k) => k.sku) })
    // The opening stock: one receive per SKU at the start, so the gateway starts from the same shelves.
    for (const k of this.skus) {
      if (k.spec.initial > 0) this.scan(start, this.dockScanner, 'receive', k.spec.sku, k.spec.initial, k.spec.bin)
      this.truth({ type: 'stock', t: start, sku: k.spec.sku, location: k.spec.bin, onHand: k.spec.initial })
    }
    this.scheduleIncidents()
    this.scheduleFaultsOnce()
  }

  get now(): number {
    return this.t
  }

  /** The run is over and everything made has been handed out. */
  get done(): boolean {
    return this.finished && this.queue.length === 0
  }

  /** Move to simulated time `to` (at most the end); what the devices send before then, in send order. */
  advance(to: number): Action[] {
    const target = Math.min(to, this.end)
    while (this.t < target) {
      const stepEnd = Math.min(this.t + this.s.step, this.end)
      this.step(this.t, stepEnd)
      this.t = stepEnd
    }
    if (this.t >= this.end) this.finish()
    // From the end on, everything held back (a dropout, a late message) goes out too.
    const bound = to >= this.end ? Infinity : to
    const due = this.queue.filter((a) => a.at < bound)
    this.queue = this.queue.filter((a) => a.at >= bound)
    // Stable: actions due at the same time keep the order they were made in.
    return due.sort((a, b) => a.at - b.at)
  }

  // ---------------------------------------------------------------------------------------------

  private step(from: number, to: number): void {
    const dt = to - from
    // Timed events (receipts, putaways, shipment steps, incidents) due in this step, in time order.
    this.runPending(to)
    for (const z of this.zones) this.stepZone(z, from, to, dt)
    const events: Array<{ at: number; run: () => void }> = []
    for (const k of this.skus) for (const e of this.demandIn(k, from, dt)) events.push(e)
    events.sort((a, b) => a.at - b.at)
    for (const e of events) e.run()
    this.shipmentsIn(from, dt)
    for (const d of this.devices) this.periodic(d, from, to)
  }

  private runPending(to: number): void {
    for (;;) {
      let next: Pending | undefined
      for (const p of this.pending) if (p.at < to && (!next || p.at < next.at || (p.at === next.at && p.order < next.order))) next = p
      if (!next) return
      this.pending.splice(this.pending.indexOf(next), 1)
      next.run()
    }
  }

  private schedule(at: number, run: () => void): void {
    this.pending.push({ at, order: this.order++, run })
  }

  // Environment -------------------------------------------------------------------------------

  private failing(zone: string, t: number): boolean {
    return this.s.incidents.compressorFailures.some((f) => f.zone === zone && t >= this.start + f.at && t < this.start + f.at + f.for)
  }

  private stepZone(z: ZoneState, from: number, to: number, dt: number): void {
    const target = this.failing(z.spec.id, from) ? z.spec.outside : z.spec.setpoint
    z.temp += (target - z.temp) * (1 - Math.exp(-dt / z.spec.tau))
    const doors = z.rnd.poisson((z.spec.doorsPerHour * dt) / HOUR)
    z.temp += doors * z.spec.doorWarmC
    if (z.spec.limit !== undefined) {
      const labels = { zone: z.spec.id }
      if (z.temp > z.spec.limit) {
        z.aboveSince ??= to
        if (!z.excursion && to - z.aboveSince >= EXCURSION_MIN_MS) {
          z.excursion = true
          this.incident(z.aboveSince, 'excursion', 'start', z.spec.id, labels)
        }
      } else {
        z.aboveSince = null
        if (z.excursion) {
          z.excursion = false
          this.incident(to, 'excursion', 'end', z.spec.id, labels)
        }
      }
    }
    const env = `env-${z.spec.id}`
    for (const at of ticks(this.start, this.s.devices.envEvery, from, to)) {
      const value = Math.round((z.temp + z.rnd.normal(0, 0.1)) * 100) / 100
      this.publish(at, env, 'reading', { metrics: { temperature_c: value } })
    }
  }

  // Stock ---------------------------------------------------------------------------------------

  private demandIn(k: SkuState, from: number, dt: number): Array<{ at: number; run: () => void }> {
    const d = k.spec.demand
    const day = Math.floor((from - this.start) / DAY)
    if (day !== k.demandDay) {
      k.demandDay = day
      k.demandToday = d.pattern !== 'intermittent' || k.rnd.chance(d.dayChance)
    }
    if (!k.demandToday) return []
    const date = new Date(from)
    const hour = date.getUTCHours()
    const share = dailyShape(d.hours)[hour]!
    if (share === 0) return []
    const weekly = d.weekly[(date.getUTCDay() + 6) % 7]! / (d.weekly.reduce((a, b) => a + b, 0) / 7)
    const since = from - this.start
    const promo = d.promotions.filter((p) => since >= p.from && since < p.to).reduce((f, p) => f * p.factor, 1)
    const dayShare = d.pattern === 'intermittent' ? 1 / d.dayChance : 1
    const perStep = d.perDay * dayShare * weekly * promo * (1 + d.trend * (since / DAY)) * share * (dt / HOUR)
    const lines = k.rnd.poisson(perStep / d.lineMean)
    const out: Array<{ at: number; run: () => void }> = []
    for (let i = 0; i < lines; i++) {
      const at = Math.floor(from + k.rnd.next() * dt)
      const qty = 1 + k.rnd.poisson(d.lineMean - 1)
      out.push({ at, run: () => this.pick(k, at, qty) })
    }
    return out
  }

  private pick(k: SkuState, at: number, qty: number): void {
    const bin = k.spec.bin
    const have = k.onHand.get(bin) ?? 0
    const take = Math.min(have, qty)
    if (take === 0) {
      this.truth({ type: 'pick_failed', t: at, sku: k.spec.sku, qty })
    } else {
      this.move(k, at, [bin, -take])
      this.scan(at, this.pickScanner, 'pick', k.spec.sku, take, bin, `SO-${++this.orderNo}`)
    }
    this.replenish(k, at)
  }

  private replenish(k: SkuState, at: number): void {
    if (k.onOrder) return
    const position = [...k.onHand.values()].reduce((a, b) => a + b, 0)
    if (position > k.spec.reorderPoint) return
    k.onOrder = true
    const since = at - this.start
    const extra = this.s.incidents.supplierDelays.filter((d) => d.sku === k.spec.sku && since >= d.from && since < d.to).reduce((a, d) => a + d.extra, 0)
    const arrive = at + k.spec.leadTime + extra
    const qty = k.spec.orderQty
    this.schedule(arrive, () => {
      this.move(k, arrive, [DOCK, qty])
      this.scan(arrive, this.dockScanner, 'receive', k.spec.sku, qty, DOCK)
      const putaway = arrive + 15 * MIN
      this.schedule(putaway, () => {
        this.move(k, putaway, [DOCK, -qty], [k.spec.bin, qty])
        this.scan(putaway, this.dockScanner, 'putaway', k.spec.sku, qty, k.spec.bin, undefined, DOCK)
        k.onOrder = false
        this.replenish(k, putaway)
      })
    })
  }

  /** Stock changes made at one instant (a putaway moves from the dock and to the bin at once). */
  private move(k: SkuState, at: number, ...deltas: Array<[location: string, delta: number]>): void {
    for (const [location, delta] of deltas) {
      const onHand = (k.onHand.get(location) ?? 0) + delta
      k.onHand.set(location, onHand)
      this.truth({ type: 'stock', t: at, sku: k.spec.sku, location, onHand })
    }
    const total = [...k.onHand.values()].reduce((a, b) => a + b, 0)
    const labels = { sku: k.spec.sku }
    if (!k.out && total === 0) {
      k.out = true
      this.incident(at, 'stockout', 'start', k.spec.sku, labels)
    } else if (k.out && total > 0) {
      k.out = false
      this.incident(at, 'stockout', 'end', k.spec.sku, labels)
    }
  }

  private scan(at: number, device: string, event: string, sku: string, qty: number, location: string, ref?: string, from?: string): void {
    this.publish(at, device, 'scan', { event, sku, qty, location, ...(ref && { ref }), ...(from && { from }) })
  }

  // Shipments -----------------------------------------------------------------------------------

  private shipmentsIn(from: number, dt: number): void {
    const sh = this.s.shipments
    if (sh.perDay === 0) return
    const rnd = this.rnd
    const n = rnd.poisson((sh.perDay * dt) / DAY)
    const forced = this.s.incidents.lateTrucks.filter((l) => this.start + l.at >= from && this.start + l.at < from + dt)
    for (let i = 0; i < n + forced.length; i++) {
      const id = `SH-${String(++this.shipmentNo).padStart(5, '0')}`
      const late = i >= n ? forced[i - n]! : undefined
      const released = late ? this.start + late.at : Math.floor(from + rnd.next() * dt)
      const picked = released + Math.round(rnd.uniform(20, 60) * MIN)
      const packed = picked + Math.round(rnd.uniform(10, 30) * MIN)
      const spread = Math.round(Math.max(30 * MIN, rnd.normal(sh.loadMean, sh.loadSd)))
      const loaded = late ? released + sh.loadWithin + late.late : Math.max(packed + 5 * MIN, released + spread)
      const departed = loaded + Math.round(rnd.uniform(10, 30) * MIN)
      const deadline = released + sh.loadWithin
      const steps: Array<[string, number]> = [
        ['released', released],
        ['picked', picked],
        ['packed', packed],
        ['loaded', loaded],
        ['departed', departed],
      ]
      for (const [status, at] of steps) this.schedule(at, () => this.publish(at, 'tracker-1', 'shipment', { shipmentId: id, status }))
      if (loaded > deadline) {
        const labels = { shipment: id }
        this.schedule(deadline, () => this.incident(deadline, 'late_shipment', 'start', id, labels))
        this.schedule(loaded, () => this.incident(loaded, 'late_shipment', 'end', id, labels))
      }
    }
  }

  // Devices -------------------------------------------------------------------------------------

  private periodic(d: SimDevice, from: number, to: number): void {
    for (const at of ticks(this.start, this.s.devices.heartbeatEvery, from, to)) {
      const pct = Math.max(1, Math.round((this.battery.get(d.id) ?? 100) - (at - this.start) / DAY))
      this.publish(at, d.id, 'status', { state: 'online', battery_pct: pct, firmware: 'sim-1.0' })
    }
    if (d.kind !== 'scale') return
    const k = this.skus.find((s) => `scale-${s.spec.sku.toLowerCase()}` === d.id)!
    for (const at of ticks(this.start, this.s.devices.scaleEvery, from, to)) {
      const units = k.onHand.get(k.spec.bin) ?? 0
      const drift = (this.s.devices.scaleDriftKgPerDay * (at - this.start)) / DAY
      const kg = Math.max(0, units * k.spec.unitWeightKg + drift + k.rnd.normal(0, this.s.devices.scaleNoiseKg))
      this.publish(at, d.id, 'reading', { sku: k.spec.sku, metrics: { weight_kg: Math.round(kg * 1000) / 1000 } })
    }
  }

  private scheduleIncidents(): void {
    for (const b of this.s.incidents.batteryDeaths) {
      const at = this.start + b.at
      this.schedule(at, () => {
        this.publish(at, b.device, 'status', { state: 'online', battery_pct: 1, firmware: 'sim-1.0' })
        this.dead.add(b.device)
        this.incident(at, 'device_death', 'start', b.device, { device: b.device })
      })
    }
  }

  /** Faults not tied to a message: wrong logins and dropouts, spread over the run. */
  private scheduleFaultsOnce(): void {
    const f = this.s.faults
    const rnd = this.rnd.fork('faults')
    const victims = this.devices.filter((d) => d.kind !== 'tracker')
    for (let i = 0; i < f.wrongCredentials; i++) {
      const at = Math.floor(this.start + rnd.next() * this.s.duration)
      const device = rnd.pick(victims).id
      this.schedule(at, () => {
        this.emit({ at, type: 'bad_login', device })
        this.fault(at, 'wrong_credentials', device)
      })
    }
    for (let i = 0; i < f.reconnectStorms; i++) {
      const at = Math.floor(this.start + rnd.next() * (this.s.duration - f.stormSpread))
      const backs = this.devices.map(() => at + Math.round(rnd.next() * f.stormSpread))
      this.schedule(at, () => {
        this.fault(at, 'reconnect_storm', '*')
        this.devices.forEach((d, k) => {
          if ((this.offlineUntil.get(d.id) ?? -Infinity) > at) return
          this.offlineUntil.set(d.id, backs[k]!)
          this.emit({ at, type: 'offline', device: d.id })
          this.emit({ at: backs[k]!, type: 'online', device: d.id })
        })
      })
    }
    const days = this.s.duration / DAY
    for (const d of this.devices) {
      const n = rnd.poisson(f.dropoutsPerDeviceDay * days)
      for (let i = 0; i < n; i++) {
        const at = Math.floor(this.start + rnd.next() * (this.s.duration - f.dropoutLength))
        this.schedule(at, () => {
          if ((this.offlineUntil.get(d.id) ?? -Infinity) > at) return
          const back = at + f.dropoutLength
          this.offlineUntil.set(d.id, back)
          this.emit({ at, type: 'offline', device: d.id })
          this.emit({ at: back, type: 'online', device: d.id })
          this.fault(at, 'dropout', d.id)
        })
      }
    }
  }

  // Publishing and faults -----------------------------------------------------------------------

  private publish(at: number, device: string, kind: string, body: Record<string, unknown>): void {
    if (this.dead.has(device)) return
    const seq = (this.seq.get(device) ?? 0) + 1
    this.seq.set(device, seq)
    const payload = { v: 1, ts: at, ...body, seq }
    const f = this.s.faults
    const rnd = this.rnd
    // A device that is offline keeps what it makes and sends it when it is back (store and forward).
    const back = this.offlineUntil.get(device) ?? -Infinity
    let sendAt = Math.max(at, back > at ? back : at)
    if (sendAt === at && rnd.chance(f.outOfOrder)) {
      sendAt = at + Math.round(rnd.uniform(1, 10) * MIN)
      this.fault(at, 'out_of_order', device)
    }
    this.emit({ at: sendAt, type: 'publish', device, kind, payload })
    if (rnd.chance(f.duplicates)) {
      this.emit({ at: sendAt, type: 'publish', device, kind, payload })
      this.fault(at, 'duplicate', device)
    }
    // Faulty extras ride along with readings and heartbeats, never instead of them: the truth stays whole.
    if (kind !== 'reading' && kind !== 'status') return
    if (sendAt !== at) return
    if (rnd.chance(f.malformed)) {
      this.emit({ at, type: 'publish', device, kind, payload: JSON.stringify(payload).slice(0, -7) + ',,}' })
      this.fault(at, 'malformed', device)
    }
    if (rnd.chance(f.invalid)) {
      this.emit({ at, type: 'publish', device, kind, payload: { ...payload, seq: undefined, v: 1, ts: at, metrics: { temperature_c: 'warm' } } })
      this.fault(at, 'invalid', device)
    }
    if (rnd.chance(f.oversized)) {
      this.emit({ at, type: 'publish', device, kind, payload: JSON.stringify({ ...payload, seq: undefined, note: 'x'.repeat(70_000) }) })
      this.fault(at, 'oversized', device)
    }
    if (rnd.chance(f.clockSkew)) {
      this.emit({ at, type: 'publish', device, kind, payload: { ...payload, seq: undefined, ts: at + HOUR } })
      this.fault(at, 'clock_skew', device)
    }
    if (rnd.chance(f.foreignTopic)) {
      const other = this.devices.find((d) => d.id !== device)
      if (other) {
        this.emit({ at, type: 'publish', device, kind, payload: { ...payload, seq: undefined }, topicDevice: other.id })
        this.fault(at, 'foreign_topic', device)
      }
    }
  }

  private emit(a: Action): void {
    this.queue.push(a)
  }

  private fault(t: number, kind: FaultKind, device: string): void {
    this.faultCounts[kind] = (this.faultCounts[kind] ?? 0) + 1
    this.truth({ type: 'fault', t, kind, device, expect: FAULT_EXPECTS[kind] })
  }

  private incident(t: number, kind: IncidentKind, phase: 'start' | 'end', key: string, labels: Record<string, string>): void {
    if (phase === 'start') this.incidentCounts[kind] = (this.incidentCounts[kind] ?? 0) + 1
    this.truth({ type: 'incident', t, kind, phase, key, labels })
  }

  private finish(): void {
    if (this.finished) return
    this.finished = true
    this.runPending(this.end)
    const stock: Record<string, Record<string, number>> = {}
    for (const k of this.skus) stock[k.spec.sku] = Object.fromEntries([...k.onHand].sort(([a], [b]) => (a < b ? -1 : 1)))
    this.truth({ type: 'end', t: this.end, stock, faults: sortKeys(this.faultCounts), incidents: sortKeys(this.incidentCounts) })
  }
}

const shapes = new Map<string, number[]>()

/**
 * Daily seasonality: the share of a day's demand in each UTC hour, a half-sine over the hours
 * [h0, h1) that peaks mid-shift (at about 1.6 times the flat rate) and is 0 outside them.
 */
export function dailyShape([h0, h1]: readonly [number, number]): number[] {
  const key = `${h0}-${h1}`
  let shape = shapes.get(key)
  if (!shape) {
    const weights = Array.from({ length: 24 }, (_, h) => (h >= h0 && h < h1 ? Math.sin((Math.PI * (h + 0.5 - h0)) / (h1 - h0)) : 0))
    const total = weights.reduce((a, b) => a + b, 0)
    shape = weights.map((w) => w / total)
    shapes.set(key, shape)
  }
  return shape
}

/** The times t = start + k × every inside [from, to). */
function ticks(start: number, every: number, from: number, to: number): number[] {
  const out: number[] = []
  for (let t = start + Math.ceil((from - start) / every) * every; t < to; t += every) out.push(t)
  return out
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)))
}
