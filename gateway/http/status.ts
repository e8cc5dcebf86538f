/** The gateway's own status for site staff and HQ: identity, uptime, InfluxDB replication lag and Node-RED. */
import type { Route } from './route.ts'

export const statusRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/status',
    access: 'viewer',
    handle: (c, deps) => {
      const sink = deps.sinkStats?.() ?? null
      const started = deps.startedAt ?? Date.now()
      return c.json({
        site: deps.config.site,
        startedAt: started,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        replication: {
          // `running` says whether the sink worker is up; `lanes` appear with its first report.
          influx: { enabled: deps.config.influx.enabled, ...sink },
        },
        nodeRed: deps.nodeRed ? { enabled: true, editor: '/red/', ...deps.nodeRed.state() } : { enabled: false },
      })
    },
  },
]
