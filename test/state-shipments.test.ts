/**
 * The shipment book: the state machine released → … → delivered plus exception, in event time
 * (gateway/state/shipments.ts states the contract). Anomalies are recorded, never thrown.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ScanFact } from '../gateway/state/stock.ts'
import { readShipmentAnomalies, readShipments, ShipmentBook, shipmentFactFromScan, type ShipmentFact, type ShipmentStatus } from '../gateway/state/shipments.ts'
import { tempDir } from './helpers/gateway.ts'

const T0 = Date.UTC(2025, 0, 31, 8)
const MIN = 60_000
const at = (minutes: number) => T0 + minutes * MIN
const iso = (minutes: number) => new Date(at(minutes)).toISOString()

let dir: string
let db: Database.Database
let book: ShipmentBook

beforeEach(() => {
  dir = tempDir('stockyard-shipments-')
  db = new Database(join(dir, 'state.db'))
  book = new ShipmentBook(db)
})

afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A tracker event for shipment SH-1, `minutes` after T0. */
function tracker(minutes: number, status: ShipmentStatus, extra: Partial<ShipmentFact> = {}): ShipmentFact {
  return { ts: at(minutes), shipment: 'SH-1', status, source: 'tracker', device: 'tracker-1', ...extra }
}

function scan(minutes: number, event: ScanFact['event'], ref: string): ScanFact {
  return { ts: at(minutes), event, sku: 'SKU-0001', qty: 1, location: 'DOCK-1', ref, device: 'scanner-1' }
}

function flush(): void {
  db.transaction(() => book.flush())()
}

describe('in order', () => {
  it('walks released → delivered, keeping when each step was reached', () => {
    const steps = ['released', 'picked', 'packed', 'loaded', 'departed', 'delivered'] as const
    const changes = steps.map((s, i) => book.apply(tracker(i * 10, s)))
    expect(changes.map((c) => [c?.previous, c?.status])).toEqual([
      [undefined, 'released'],
      ['released', 'picked'],
      ['picked', 'packed'],
      ['packed', 'loaded'],
      ['loaded', 'departed'],
      ['departed', 'delivered'],
    ])
    expect(changes.at(-1)).toEqual({
      shipment: 'SH-1',
      previous: 'departed',
      status: 'delivered',
      steps: { released: at(0), picked: at(10), packed: at(20), loaded: at(30), departed: at(40), delivered: at(50) },
      lastUpdate: at(50),
    })
  })

  it('allows skipped steps', () => {
    book.apply(tracker(0, 'released'))
    expect(book.apply(tracker(5, 'loaded'))).toMatchObject({ status: 'loaded', steps: { released: at(0), loaded: at(5) } })
    expect(book.apply(tracker(5, 'loaded'))?.invalid).toBeUndefined()
  })

  it('keeps the eta and note of the newest event that carried one', () => {
    book.apply(tracker(0, 'released', { eta: at(300), note: 'first' }))
    book.apply(tracker(20, 'departed', { eta: at(240) }))
    book.apply(tracker(10, 'loaded', { eta: at(400), note: 'late report' }))
    expect(book.get('SH-1')).toMatchObject({ eta: at(240), note: 'late report', lastUpdate: at(20) })
  })
})

describe('out of order', () => {
  it('fills in an earlier step that arrives late; the status stays at the furthest step', () => {
    book.apply(tracker(0, 'released'))
    book.apply(tracker(20, 'packed'))
    const change = book.apply(tracker(10, 'picked'))
    expect(change).toEqual({
      shipment: 'SH-1',
      previous: 'packed',
      status: 'packed',
      steps: { released: at(0), picked: at(10), packed: at(20) },
      lastUpdate: at(20),
    })
  })

  it('keeps the earliest ts of a repeated step, silently', () => {
    book.apply(tracker(10, 'released'))
    expect(book.apply(tracker(15, 'released'))).toMatchObject({ steps: { released: at(10) }, lastUpdate: at(15) })
    expect(book.apply(tracker(5, 'released'))).toMatchObject({ steps: { released: at(5) } })
    expect(book.apply(tracker(5, 'released'))).toBeUndefined()
    expect(readShipmentAnomalies(db)).toEqual([])
  })
})

describe('exception', () => {
  it('holds while it is newer than the furthest step; a later step clears it', () => {
    book.apply(tracker(0, 'released'))
    book.apply(tracker(10, 'loaded'))
    expect(book.apply(tracker(15, 'exception', { note: 'pallet damaged at dock 3' }))).toMatchObject({ previous: 'loaded', status: 'exception' })
    expect(book.apply(tracker(20, 'departed'))).toMatchObject({ previous: 'exception', status: 'departed' })
    expect(book.get('SH-1')).toMatchObject({ status: 'departed', exceptionTs: at(15), note: 'pallet damaged at dock 3' })
  })

  it('an exception older than the furthest step, arriving late, does not change the status', () => {
    book.apply(tracker(20, 'loaded'))
    expect(book.apply(tracker(10, 'exception'))).toMatchObject({ status: 'loaded' })
  })

  it('a first event that is an exception creates the shipment in exception', () => {
    expect(book.apply(tracker(0, 'exception'))).toMatchObject({ previous: undefined, status: 'exception', steps: {} })
  })
})

describe('anomalies are recorded, never thrown', () => {
  it('a step whose ts is before a step that comes before it (time goes backwards)', () => {
    book.apply(tracker(20, 'picked'))
    const change = book.apply(tracker(10, 'loaded'))
    const message = `loaded at ${iso(10)} is earlier than picked at ${iso(20)}, which comes before it`
    expect(change).toMatchObject({ status: 'loaded', steps: { picked: at(20), loaded: at(10) }, invalid: message })
    flush()
    expect(readShipmentAnomalies(db, 'SH-1')).toEqual([{ shipment: 'SH-1', ts: at(10), status: 'loaded', source: 'tracker', device: 'tracker-1', message }])
  })

  it('an earlier step whose ts is after a later step', () => {
    book.apply(tracker(10, 'packed'))
    expect(book.apply(tracker(30, 'picked'))?.invalid).toBe(`picked at ${iso(30)} is later than packed at ${iso(10)}, which comes after it`)
  })

  it('any step after delivered', () => {
    book.apply(tracker(50, 'delivered'))
    const change = book.apply(tracker(60, 'departed'))
    expect(change).toMatchObject({
      status: 'delivered',
      invalid: `departed at ${iso(60)} is after delivered at ${iso(50)}; a delivered shipment takes no further steps`,
    })
  })

  it('an exception after delivered, which leaves the shipment delivered', () => {
    book.apply(tracker(50, 'delivered'))
    const change = book.apply(tracker(60, 'exception', { note: 'customer reports damage' }))
    expect(change).toMatchObject({ status: 'delivered', invalid: `exception at ${iso(60)} is after delivered at ${iso(50)}; delivered is final` })
    flush()
    expect(readShipmentAnomalies(db)).toHaveLength(1)
  })
})

describe('scans', () => {
  it('map pick, pack and ship with a ref to picked, packed and loaded; other scans and scans without a ref to nothing', () => {
    expect(shipmentFactFromScan(scan(1, 'pick', 'SH-1'))).toEqual({ ts: at(1), shipment: 'SH-1', status: 'picked', source: 'scan', device: 'scanner-1' })
    expect(shipmentFactFromScan(scan(1, 'pack', 'SH-1'))?.status).toBe('packed')
    expect(shipmentFactFromScan(scan(1, 'ship', 'SH-1'))?.status).toBe('loaded')
    expect(shipmentFactFromScan(scan(1, 'receive', 'PO-7'))).toBeUndefined()
    expect(shipmentFactFromScan(scan(1, 'pick', ''))).toBeUndefined()
  })

  it('advance a shipment the book knows', () => {
    book.apply(tracker(0, 'released'))
    expect(book.apply(shipmentFactFromScan(scan(5, 'pick', 'SH-1'))!)).toMatchObject({ previous: 'released', status: 'picked' })
  })

  it('never create one: the ref may be a sales order', () => {
    expect(book.apply(shipmentFactFromScan(scan(5, 'pick', 'SO-88123'))!)).toBeUndefined()
    expect(book.list()).toEqual([])
  })
})

describe('persistence', () => {
  it('survives a reopen, and readers on another connection see the same shipments', () => {
    book.apply(tracker(0, 'released'))
    book.apply(tracker(20, 'packed', { eta: at(300) }))
    book.apply(tracker(25, 'exception', { note: 'label missing' }))
    book.apply(tracker(0, 'released', { shipment: 'SH-2' }))
    flush()
    const before = book.list()
    db.close()
    db = new Database(join(dir, 'state.db'))
    book = new ShipmentBook(db)
    expect(book.list()).toEqual(before)
    // The eta's own ts came back too: an older eta still loses.
    book.apply(tracker(10, 'picked', { eta: at(999) }))
    expect(book.get('SH-1')).toMatchObject({ status: 'exception', eta: at(300), steps: { released: at(0), picked: at(10), packed: at(20) } })

    const reader = new Database(join(dir, 'state.db'), { readonly: true })
    expect(readShipments(reader, { status: 'exception' })).toEqual([
      {
        id: 'SH-1',
        status: 'exception',
        steps: { released: at(0), packed: at(20) },
        exceptionTs: at(25),
        lastUpdate: at(25),
        eta: at(300),
        note: 'label missing',
      },
    ])
    expect(readShipments(reader).map((s) => s.id)).toEqual(['SH-1', 'SH-2'])
    reader.close()
  })

  it('reads nothing from a database whose tables do not exist yet', () => {
    const other = new Database(join(dir, 'empty.db'))
    expect(readShipments(other)).toEqual([])
    expect(readShipmentAnomalies(other)).toEqual([])
    other.close()
  })
})
