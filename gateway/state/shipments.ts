/**
 * Shipment state, folded from tracker events and from scans that name a known shipment. Lives on the
 * ingest worker (the only writer); readers on other connections use `readShipments`.
 *
 * Steps run released → picked → packed → loaded → departed → delivered; `exception` is off the path.
 * - Each step keeps the earliest ts seen for it; a repeat with another ts is ignored silently.
 * - status = the furthest step reached, or `exception` while the newest exception is newer than that
 *   step's ts (a later step clears it). `delivered` is final: an exception after it does not change it.
 * - Event time, not arrival order: a step arriving late (`picked` after `packed`, with an earlier ts)
 *   fills the step in; that is normal. Skipped steps are allowed.
 * - Anomalies never throw and never drop the event; they are recorded in `shipment_anomalies` and as
 *   `invalid` in the change: time going backwards (a step with a ts earlier than a step before it, or
 *   later than a step after it), and any step or exception after `delivered`.
 * - `lastUpdate` is the newest ts of any event (for stall detection); `eta` and `note` come from the
 *   newest event that carried one.
 * - Only tracker events create a shipment. A scan's ref may be a sales order, so scans only advance
 *   shipments already known.
 *
 * `flush()` writes the shipments changed since the last flush and the new anomalies, opening no
 * transaction: the caller wraps it together with its other writes.
 */
import type { Database, Statement } from 'better-sqlite3'
import { SHIPMENT_STEPS } from '../rules/fields.ts'
import { hasTable } from './sql.ts'
import type { ScanFact } from './stock.ts'

export type ShipmentStep = (typeof SHIPMENT_STEPS)[number]
export type ShipmentStatus = ShipmentStep | 'exception'
export type ShipmentSteps = Partial<Record<ShipmentStep, number>>

/** One shipment event, from a tracker (the `shipment` contract) or derived from a scan. */
export interface ShipmentFact {
  ts: number
  shipment: string
  status: ShipmentStatus
  source: 'tracker' | 'scan'
  device: string
  eta?: number
  note?: string
}

/** A shipment after an event changed it; `invalid` says why the event was an anomaly. */
export interface ShipmentChange {
  shipment: string
  previous: ShipmentStatus | undefined
  status: ShipmentStatus
  steps: ShipmentSteps
  lastUpdate: number
  invalid?: string
}

/** A shipment as the book and readers see it. */
export interface Shipment {
  id: string
  status: ShipmentStatus
  /** Earliest ts of each step reached. */
  steps: ShipmentSteps
  /** Newest exception, if any. */
  exceptionTs?: number
  lastUpdate: number
  eta?: number
  note?: string
}

/** A recorded anomaly: the event that caused it, and why. */
export interface ShipmentAnomaly {
  shipment: string
  ts: number
  status: ShipmentStatus
  source: ShipmentFact['source']
  device: string
  message: string
}

interface State extends Shipment {
  etaTs?: number
  noteTs?: number
}

interface Row {
  id: string
  status: ShipmentStatus
  steps: string
  exception_ts: number | null
  last_update: number
  eta: number | null
  eta_ts: number | null
  note: string | null
  note_ts: number | null
}

const DDL = `
CREATE TABLE IF NOT EXISTS shipments (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, steps TEXT NOT NULL, exception_ts INTEGER, last_update INTEGER NOT NULL,
  eta INTEGER, eta_ts INTEGER, note TEXT, note_ts INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shipment_anomalies (
  id INTEGER PRIMARY KEY, shipment TEXT NOT NULL, ts INTEGER NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL,
  device TEXT NOT NULL, message TEXT NOT NULL);
`

const SCAN_STEP: Partial<Record<ScanFact['event'], ShipmentStep>> = { pick: 'picked', pack: 'packed', ship: 'loaded' }

/**
 * The shipment event a scan implies, if any: pick → picked, pack → packed, ship → loaded, for a scan
 * with a ref. The book applies it only when the ref is a shipment it knows.
 */
export function shipmentFactFromScan(scan: ScanFact): ShipmentFact | undefined {
  const status = SCAN_STEP[scan.event]
  if (status === undefined || scan.ref === '') return undefined
  return { ts: scan.ts, shipment: scan.ref, status, source: 'scan', device: scan.device }
}

const iso = (ts: number): string => new Date(ts).toISOString()

function statusOf(s: State): ShipmentStatus {
  let furthest: ShipmentStep | undefined
  for (const step of SHIPMENT_STEPS) if (s.steps[step] !== undefined) furthest = step
  if (furthest === 'delivered') return furthest
  if (s.exceptionTs !== undefined && (furthest === undefined || s.exceptionTs > s.steps[furthest]!)) return 'exception'
  return furthest ?? 'exception'
}

/** Why `step` at `ts` contradicts the steps already known, or undefined. */
function stepAnomaly(steps: ShipmentSteps, step: ShipmentStep, ts: number): string | undefined {
  const delivered = steps.delivered
  if (step !== 'delivered' && delivered !== undefined && ts > delivered) {
    return `${step} at ${iso(ts)} is after delivered at ${iso(delivered)}; a delivered shipment takes no further steps`
  }
  const at = SHIPMENT_STEPS.indexOf(step)
  for (const [i, other] of SHIPMENT_STEPS.entries()) {
    const t = steps[other]
    if (t === undefined || i === at) continue
    if (i < at && t > ts) return `${step} at ${iso(ts)} is earlier than ${other} at ${iso(t)}, which comes before it`
    if (i > at && t < ts) return `${step} at ${iso(ts)} is later than ${other} at ${iso(t)}, which comes after it`
  }
  return undefined
}

function toShipment(s: State): Shipment {
  const out: Shipment = { id: s.id, status: s.status, steps: { ...s.steps }, lastUpdate: s.lastUpdate }
  if (s.exceptionTs !== undefined) out.exceptionTs = s.exceptionTs
  if (s.eta !== undefined) out.eta = s.eta
  if (s.note !== undefined) out.note = s.note
  return out
}

function fromRow(r: Row): State {
  const s: State = { id: r.id, status: r.status, steps: JSON.parse(r.steps) as ShipmentSteps, lastUpdate: r.last_update }
  if (r.exception_ts !== null) s.exceptionTs = r.exception_ts
  if (r.eta !== null) Object.assign(s, { eta: r.eta, etaTs: r.eta_ts })
  if (r.note !== null) Object.assign(s, { note: r.note, noteTs: r.note_ts })
  return s
}

/** The shipment book: see the module comment for the semantics. */
export class ShipmentBook {
  private readonly byId = new Map<string, State>()
  private readonly dirty = new Set<State>()
  private anomalies: ShipmentAnomaly[] = []
  private readonly st: Record<'upsert' | 'anomaly', Statement>

  /** Creates the tables if needed and loads every shipment into memory. */
  constructor(db: Database) {
    db.exec(DDL)
    this.st = {
      upsert: db.prepare(
        `INSERT INTO shipments (id, status, steps, exception_ts, last_update, eta, eta_ts, note, note_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, steps = excluded.steps, exception_ts = excluded.exception_ts,
         last_update = excluded.last_update, eta = excluded.eta, eta_ts = excluded.eta_ts, note = excluded.note, note_ts = excluded.note_ts`,
      ),
      anomaly: db.prepare('INSERT INTO shipment_anomalies (shipment, ts, status, source, device, message) VALUES (?, ?, ?, ?, ?, ?)'),
    }
    for (const r of db.prepare('SELECT * FROM shipments').all() as Row[]) this.byId.set(r.id, fromRow(r))
  }

  /**
   * Applies one event; returns the shipment if the event changed it or was an anomaly, undefined if
   * it changed nothing (a scan for an unknown shipment, a repeat).
   */
  apply(f: ShipmentFact): ShipmentChange | undefined {
    let s = this.byId.get(f.shipment)
    const previous = s?.status
    if (!s) {
      if (f.source === 'scan') return undefined
      s = { id: f.shipment, status: f.status, steps: {}, lastUpdate: f.ts }
      this.byId.set(s.id, s)
    }
    let changed = previous === undefined
    let invalid: string | undefined
    if (f.status === 'exception') {
      const delivered = s.steps.delivered
      if (delivered !== undefined && f.ts > delivered) invalid = `exception at ${iso(f.ts)} is after delivered at ${iso(delivered)}; delivered is final`
      if (s.exceptionTs === undefined || f.ts > s.exceptionTs) {
        s.exceptionTs = f.ts
        changed = true
      }
    } else {
      const known = s.steps[f.status]
      if (known === undefined || f.ts < known) {
        invalid = stepAnomaly(s.steps, f.status, f.ts)
        s.steps[f.status] = f.ts
        changed = true
      }
    }
    if (f.ts > s.lastUpdate) {
      s.lastUpdate = f.ts
      changed = true
    }
    if (f.eta !== undefined && (s.etaTs === undefined || f.ts >= s.etaTs)) {
      changed ||= s.eta !== f.eta || s.etaTs !== f.ts
      Object.assign(s, { eta: f.eta, etaTs: f.ts })
    }
    if (f.note !== undefined && (s.noteTs === undefined || f.ts >= s.noteTs)) {
      changed ||= s.note !== f.note || s.noteTs !== f.ts
      Object.assign(s, { note: f.note, noteTs: f.ts })
    }
    if (!changed && invalid === undefined) return undefined
    s.status = statusOf(s)
    this.dirty.add(s)
    const change: ShipmentChange = { shipment: s.id, previous, status: s.status, steps: { ...s.steps }, lastUpdate: s.lastUpdate }
    if (invalid !== undefined) {
      change.invalid = invalid
      this.anomalies.push({ shipment: s.id, ts: f.ts, status: f.status, source: f.source, device: f.device, message: invalid })
    }
    return change
  }

  /** Writes the shipments changed and the anomalies seen since the last flush. Opens no transaction. */
  flush(): void {
    for (const s of this.dirty) {
      this.st.upsert.run(
        s.id,
        s.status,
        JSON.stringify(s.steps),
        s.exceptionTs ?? null,
        s.lastUpdate,
        s.eta ?? null,
        s.etaTs ?? null,
        s.note ?? null,
        s.noteTs ?? null,
      )
    }
    this.dirty.clear()
    for (const a of this.anomalies) this.st.anomaly.run(a.shipment, a.ts, a.status, a.source, a.device, a.message)
    this.anomalies = []
  }

  get(id: string): Shipment | undefined {
    const s = this.byId.get(id)
    return s && toShipment(s)
  }

  list(): Shipment[] {
    return [...this.byId.values()].map(toShipment)
  }
}

/**
 * Shipments from the tables alone, for readers on another connection (the HTTP API), ordered by id;
 * empty before the ingest worker has created the tables.
 * @example readShipments(db, { status: 'exception' })
 */
export function readShipments(db: Database, filter: { id?: string; status?: ShipmentStatus } = {}): Shipment[] {
  if (!hasTable(db, 'shipments')) return []
  const rows = db
    .prepare('SELECT * FROM shipments WHERE (@id IS NULL OR id = @id) AND (@status IS NULL OR status = @status) ORDER BY id')
    .all({ id: filter.id ?? null, status: filter.status ?? null }) as Row[]
  return rows.map((r) => toShipment(fromRow(r)))
}

/** Recorded anomalies, oldest first, optionally of one shipment. */
export function readShipmentAnomalies(db: Database, shipment?: string): ShipmentAnomaly[] {
  if (!hasTable(db, 'shipment_anomalies')) return []
  return db
    .prepare('SELECT shipment, ts, status, source, device, message FROM shipment_anomalies WHERE (@shipment IS NULL OR shipment = @shipment) ORDER BY id')
    .all({ shipment: shipment ?? null }) as ShipmentAnomaly[]
}
