/**
 * `stockyard simulate --replay FILE.csv`: publish a site's recorded readings, scans and shipment
 * events through the gateway, each row as its device would have sent it, paced by the recorded times.
 *
 * Columns (a header row names them, in any order; leave a cell empty when it does not apply):
 *   ts        epoch ms or ISO 8601 with a zone                              (every row)
 *   device    the device id                                                 (every row)
 *   kind      reading | scan | shipment                                     (every row)
 *   zone      the device's zone, used when it is registered (default replay)
 *   metric, value            a reading: one metric and its number (rows of one device, ts and sku in a
 *                            row become one message)
 *   sku                      a reading's SKU (shelf scales), or a scan's SKU
 *   event, qty, location, ref, from   a scan, as in the scan contract
 *   shipment, status         a shipment event
 * Each message carries `seq` = its first row's line number, so replaying a file twice stores it once.
 */
import { readFileSync } from 'node:fs'
import { StockyardError } from '../gateway/core/errors.ts'
import { parseCsv } from '../gateway/state/csv.ts'
import type { Action, DeviceKindName, SimDevice } from './model.ts'
import type { Playable } from './driver.ts'

const COLUMNS = ['ts', 'device', 'kind', 'zone', 'metric', 'value', 'sku', 'event', 'qty', 'location', 'ref', 'from', 'shipment', 'status'] as const
type Column = (typeof COLUMNS)[number]

function toMs(v: string): number | undefined {
  if (/^\d+$/.test(v)) return Number(v)
  if (!/(Z|[+-]\d\d:\d\d)$/.test(v)) return undefined
  const t = Date.parse(v)
  return Number.isNaN(t) ? undefined : t
}

export class ReplayModel implements Playable {
  readonly devices: SimDevice[]
  readonly start: number
  readonly end: number
  private readonly actions: Action[]
  private next = 0
  private t: number

  private constructor(actions: Action[], devices: SimDevice[]) {
    this.actions = actions
    this.devices = devices
    this.start = actions[0]!.at
    this.end = actions[actions.length - 1]!.at + 1
    this.t = this.start
  }

  /** Parse a recording; every bad row is reported with its line and column, and nothing is replayed. */
  static parse(text: string, file: string): ReplayModel {
    const csv = parseCsv(text)
    if (!csv.ok) throw new StockyardError('request.invalid', `${file}:${csv.line}: ${csv.message}`)
    const [header, ...rows] = csv.records
    if (!header || rows.length === 0)
      throw new StockyardError('request.invalid', `${file}: a header row and at least one row are needed; columns: ${COLUMNS.join(', ')}`)
    const errors: string[] = []
    const index = new Map<Column, number>()
    header.cells.forEach((name, i) => {
      if (!(COLUMNS as readonly string[]).includes(name))
        errors.push(`${file}:${header.line}: unknown column ${JSON.stringify(name)}; columns: ${COLUMNS.join(', ')}`)
      else index.set(name as Column, i)
    })
    for (const c of ['ts', 'device', 'kind'] as const) if (!index.has(c)) errors.push(`${file}:${header.line}: the column ${c} is missing`)
    if (errors.length) throw new StockyardError('request.invalid', `${file}: refused:\n  ${errors.join('\n  ')}`)

    const actions: Action[] = []
    const devices = new Map<string, SimDevice>()
    let open: { device: string; ts: number; sku: string; metrics: Record<string, number> } | undefined
    for (const row of rows) {
      const before = errors.length
      const cell = (c: Column): string => row.cells[index.get(c) ?? -1] ?? ''
      const bad = (c: Column, why: string): void => void errors.push(`${file}:${row.line}: ${c}: ${why}`)
      const ts = toMs(cell('ts'))
      const device = cell('device')
      const kind = cell('kind')
      if (ts === undefined) bad('ts', `${JSON.stringify(cell('ts'))} is not epoch ms or ISO 8601 with a zone`)
      if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(device)) bad('device', `${JSON.stringify(device)} is not a device id`)
      if (ts === undefined || errors.length > before) continue
      const known: Record<string, DeviceKindName> = { reading: cell('sku') ? 'scale' : 'env', scan: 'scanner', shipment: 'tracker' }
      if (!known[kind]) {
        bad('kind', `${JSON.stringify(kind)} is not reading, scan or shipment`)
        continue
      }
      if (!devices.has(device)) devices.set(device, { id: device, kind: known[kind], zone: cell('zone') || 'replay' })
      const publish = (payload: Record<string, unknown>): void =>
        void actions.push({ at: ts, type: 'publish', device, kind, payload: { v: 1, ts, ...payload, seq: row.line } })
      if (kind === 'reading') {
        const value = Number(cell('value'))
        if (!/^[a-z][a-z0-9_]{0,63}$/.test(cell('metric'))) bad('metric', `${JSON.stringify(cell('metric'))} is not a metric name`)
        if (cell('value') === '' || !Number.isFinite(value)) bad('value', `${JSON.stringify(cell('value'))} is not a number`)
        if (open && open.device === device && open.ts === ts && open.sku === cell('sku')) {
          open.metrics[cell('metric')] = value
          continue
        }
        const metrics: Record<string, number> = { [cell('metric')]: value }
        open = { device, ts, sku: cell('sku'), metrics }
        publish({ metrics, ...(cell('sku') && { sku: cell('sku') }) })
        continue
      }
      open = undefined
      if (kind === 'scan') {
        const qty = Number(cell('qty'))
        if (!Number.isInteger(qty)) bad('qty', `${JSON.stringify(cell('qty'))} is not a whole number`)
        publish({
          event: cell('event'),
          sku: cell('sku'),
          qty,
          location: cell('location'),
          ...(cell('ref') && { ref: cell('ref') }),
          ...(cell('from') && { from: cell('from') }),
        })
      } else {
        publish({ shipmentId: cell('shipment'), status: cell('status') })
      }
    }
    if (errors.length)
      throw new StockyardError(
        'request.invalid',
        `${file}: refused:\n  ${errors.slice(0, 20).join('\n  ')}${errors.length > 20 ? `\n  … and ${errors.length - 20} more` : ''}`,
      )
    // Recorded order is kept for rows of one time (a stable sort).
    actions.sort((a, b) => a.at - b.at)
    return new ReplayModel(actions, [...devices.values()])
  }

  static fromFile(file: string): ReplayModel {
    return ReplayModel.parse(readFileSync(file, 'utf8'), file)
  }

  get now(): number {
    return this.t
  }

  get done(): boolean {
    return this.next >= this.actions.length
  }

  advance(to: number): Action[] {
    const out: Action[] = []
    while (this.next < this.actions.length && this.actions[this.next]!.at < to) out.push(this.actions[this.next++]!)
    this.t = Math.max(this.t, Math.min(to, this.end))
    return out
  }
}
