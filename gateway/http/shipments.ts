/**
 * Shipments as folded from tracker events and scans: status, the time of each step reached, ETA and
 * note. One shipment comes with its anomalies (events that went back in time or came after delivery).
 */
import { z } from 'zod'
import { id } from '../contracts/fields.ts'
import { StockyardError } from '../core/errors.ts'
import { SHIPMENT_STEPS } from '../rules/fields.ts'
import { readShipmentAnomalies, readShipments } from '../state/shipments.ts'
import { warehouseOf } from './deps.ts'
import { oneOf, parseParams, parseQuery } from './params.ts'
import type { Route } from './route.ts'

export const SHIPMENT_STATUSES = [...SHIPMENT_STEPS, 'exception'] as const

export const ShipmentsQuerySchema = z.strictObject({ status: oneOf(SHIPMENT_STATUSES).optional() })
const ShipmentParams = z.object({ id: id('Shipment id') })

export const shipmentRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/shipments',
    access: 'viewer',
    handle: (c, deps) => {
      const { status } = parseQuery(c, ShipmentsQuerySchema)
      return c.json({ shipments: readShipments(warehouseOf(deps).db, status === undefined ? {} : { status }) })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/shipments/{id}',
    access: 'viewer',
    handle: (c, deps) => {
      const { id } = parseParams(c, ShipmentParams)
      const { db } = warehouseOf(deps)
      const [shipment] = readShipments(db, { id })
      if (!shipment) throw new StockyardError('not_found', `no shipment ${id}`)
      return c.json({ shipment, anomalies: readShipmentAnomalies(db, id) })
    },
  },
]
