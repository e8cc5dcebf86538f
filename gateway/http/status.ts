/** The gateway's own status for site staff and HQ: identity, uptime and InfluxDB replication lag. */
import type { Route } from './route.ts'

const started = Date.now()

export const statusRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/status',
    access: 'viewer',
    handle: (c, deps) => {
      const sink = deps.sinkStats?.() ?? null
      return c.json({
        site: deps.config.site,
        startedAt: started,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        replication: {
          // `lanes` appear with the worker's first report, right after start.
          influx: { enabled: deps.config.influx.enabled, ...sink },
        },
      })
    },
  },
]
