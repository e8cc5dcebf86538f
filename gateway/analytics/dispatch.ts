/**
 * Dispatch lead time: shipments' `released` → `departed` times and volumes (pick lines scanned with
 * the shipment as ref) go into the lead-time regression (regression.ts) at each run; between runs,
 * open shipments (released, not yet departed) are checked against `analytics.dispatchWithinMs` with
 * the last model, and those likely to miss it are raised as the built-in alert
 * `stockyard_dispatch_at_risk`.
 */
import type { Database } from 'better-sqlite3'
import { readShipments } from '../state/shipments.ts'
import type { DemandLedger } from './demand.ts'
import { atRisk, fitLeadTime, hourOfDay, observationOf, type LeadTimeModel, type LeadTimeObservation } from './regression.ts'

/** An open shipment's outlook, as stored and served. */
export interface DispatchOutlook {
  shipment: string
  status: string
  releasedAt: number
  /** Pick lines scanned for it so far. */
  lines: number
  deadline: number
  atRisk: boolean | null
  predictedDepartureAt: number | null
  probabilityLate: number | null
}

/** Departed shipments released after `since`, as regression observations (volume = pick lines). */
export function leadTimeObservations(db: Database, ledger: DemandLedger, since: number): LeadTimeObservation[] {
  const out: LeadTimeObservation[] = []
  for (const s of readShipments(db)) {
    const released = s.steps.released
    if (released === undefined || released < since) continue
    const o = observationOf({ released, departed: s.steps.departed, volume: ledger.order(s.id).lines })
    if (o) out.push(o)
  }
  return out
}

export function fitDispatchModel(db: Database, ledger: DemandLedger, since: number): LeadTimeModel {
  return fitLeadTime(leadTimeObservations(db, ledger, since))
}

/**
 * Every released, not yet departed (nor delivered, nor in exception) shipment, checked against its
 * dispatch deadline at `now`. The predicted departure is never before now (a shipment that waited
 * already cannot leave in the past), so one past its deadline is at risk for certain. Volume is the
 * pick lines scanned so far, while the model learned from final counts: a shipment early in picking
 * looks safer than it is until its lines are scanned.
 */
export function dispatchOutlook(db: Database, ledger: DemandLedger, model: LeadTimeModel, withinMs: number, now: number): DispatchOutlook[] {
  const out: DispatchOutlook[] = []
  for (const s of readShipments(db)) {
    const releasedAt = s.steps.released
    if (releasedAt === undefined || s.steps.departed !== undefined || s.steps.delivered !== undefined || s.status === 'exception') continue
    const { lines } = ledger.order(s.id)
    const deadline = releasedAt + withinMs
    const r = atRisk(model, { releasedAt, volume: lines, hour: hourOfDay(releasedAt) }, deadline)
    const overdue = now > deadline
    // Waited past the predicted departure: it leaves now at the earliest, so shift the prediction.
    const shift = r.predictedDepartureAt === null ? 0 : Math.max(0, now - r.predictedDepartureAt)
    const late = r.atRisk === null ? null : overdue || (r.upperDepartureAt ?? 0) + shift > deadline
    out.push({
      shipment: s.id,
      status: s.status,
      releasedAt,
      lines,
      deadline,
      atRisk: overdue ? true : late,
      predictedDepartureAt: r.predictedDepartureAt === null ? null : r.predictedDepartureAt + shift,
      probabilityLate: overdue ? 1 : r.probabilityLate,
    })
  }
  return out
}
