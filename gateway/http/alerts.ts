/**
 * Alerts: list and read them (with their history) from the reader connection, and acknowledge one
 * through the rule runtime, recording who did it. An acknowledgement is per episode: a later episode
 * of the same alert starts unacknowledged.
 */
import type { Database } from 'better-sqlite3'
import { z } from 'zod'
import { readAlert, readAlerts, readHistory, readHistoryBetween } from '../alerts/store.ts'
import { StockyardError } from '../core/errors.ts'
import { SEVERITIES } from '../rules/schema.ts'
import { hasTable } from '../state/sql.ts'
import { actor } from './auth.ts'
import { warehouseOf } from './deps.ts'
import { instant, integer, invalid, label, oneOf, parseParams, parseQuery } from './params.ts'
import type { Route } from './route.ts'

export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const
/** State changes returned with one alert, the newest ones. */
export const MAX_HISTORY = 500

export const AlertsQuerySchema = z.strictObject({
  state: oneOf(ALERT_STATES).optional(),
  severity: oneOf(SEVERITIES).optional(),
  rule: label.optional(),
  limit: integer(1, 1000).default(100),
})

const HistoryQuerySchema = z.strictObject({
  from: instant,
  to: instant.optional(),
  severity: oneOf(SEVERITIES).optional(),
  limit: integer(1, 10_000).default(1000),
})

/** An alert id: 16 hex digits (its fingerprint). */
export const alertId = z.string().regex(/^[0-9a-f]{16}$/, 'expected an alert id: 16 lowercase hex digits')
const AlertParams = z.object({ id: alertId })

/** The alert tables, unless the ingest worker has not created them yet (a fresh store: nothing to read). */
const hasAlerts = (db: Database): boolean => hasTable(db, 'alerts')

export const alertRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/alerts',
    access: 'viewer',
    handle: (c, deps) => {
      const q = parseQuery(c, AlertsQuerySchema)
      const { db } = warehouseOf(deps)
      return c.json({ alerts: hasAlerts(db) ? readAlerts(db, q) : [] })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/alerts/history',
    access: 'viewer',
    handle: (c, deps) => {
      const q = parseQuery(c, HistoryQuerySchema)
      const to = q.to ?? deps.clock?.now() ?? Date.now()
      if (to <= q.from) throw invalid(['to: must be after from'])
      const { db } = warehouseOf(deps)
      const rows = hasAlerts(db) ? readHistoryBetween(db, { from: q.from, to, limit: q.limit + 1, ...(q.severity ? { severity: q.severity } : {}) }) : []
      return c.json({ from: new Date(q.from).toISOString(), to: new Date(to).toISOString(), changes: rows.slice(0, q.limit), truncated: rows.length > q.limit })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/alerts/{id}',
    access: 'viewer',
    handle: (c, deps) => {
      const { id } = parseParams(c, AlertParams)
      const { db } = warehouseOf(deps)
      const alert = hasAlerts(db) ? readAlert(db, id) : null
      if (!alert) throw new StockyardError('not_found', `no alert ${id}`)
      return c.json({ alert, history: readHistory(db, { alert: id, limit: MAX_HISTORY }) })
    },
  },
  {
    method: 'POST',
    path: '/api/v1/alerts/{id}/ack',
    access: 'admin',
    handle: async (c, deps) => {
      const { id } = parseParams(c, AlertParams)
      // 404 for an unknown alert, 409 for a resolved one; acknowledging twice keeps the first.
      const alert = await warehouseOf(deps).runtime.call('ack', { id, by: actor(c) })
      return c.json({ alert })
    },
  },
]
