/**
 * The dashboard definitions (`dashboards/*.json`) for the built-in UI, and its live feed. The
 * definitions are read again on each request, so an edited file shows on the next page load with no
 * restart; a file that no longer validates leaves the last valid set in place and the problems listed
 * in `errors` (the gateway refused to start with an invalid set, so there always is one).
 */
import { z } from 'zod'
import { StockyardError } from '../core/errors.ts'
import type { Dashboard } from '../dashboards/schema.ts'
import type { LoadResult } from '../dashboards/load.ts'
import type { HttpDeps } from './deps.ts'
import { parseQuery } from './params.ts'
import type { Route } from './route.ts'

/** What the API needs: a loader of the configured directory, and the last valid set it returned. */
export interface DashboardsDeps {
  load(): LoadResult
  lastGood: Dashboard[]
}

function dashboardsOf(deps: HttpDeps): DashboardsDeps {
  if (!deps.dashboards) throw new StockyardError('store.failed', 'dashboards are not available in this process')
  return deps.dashboards
}

export const dashboardRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/dashboards',
    access: 'viewer',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      const d = dashboardsOf(deps)
      const r = d.load()
      if (r.ok) d.lastGood = r.dashboards
      return c.json({ site: deps.config.site, dashboards: d.lastGood, errors: r.ok ? [] : r.errors })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/live',
    access: 'viewer',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      if (!deps.live) throw new StockyardError('store.failed', 'the live feed is not available in this process')
      return deps.live.stream(c)
    },
  },
]
