/**
 * Prometheus exposition of the gateway's registry. Needs a valid token of any role (viewer is the
 * lowest): configure the scraper with `authorization: { type: Bearer, credentials: <token> }`.
 */
import type { Route } from './route.ts'

export const metricsRoutes: Route[] = [
  {
    method: 'GET',
    path: '/metrics',
    access: 'viewer',
    handle: async (c, deps) => {
      const { registry } = deps.metrics
      return c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType })
    },
  },
]
