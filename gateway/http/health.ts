/** Liveness and readiness probes; public so orchestrators and load balancers need no token. */
import type { Route } from './route.ts'

export const healthRoutes: Route[] = [
  {
    method: 'GET',
    path: '/healthz',
    access: 'public',
    // Liveness: the process answers HTTP. Says nothing about the broker or the store.
    handle: (c) => c.json({ status: 'ok' }),
  },
  {
    method: 'GET',
    path: '/readyz',
    access: 'public',
    handle: (c, deps) => {
      const { ready, checks } = deps.ready()
      return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503)
    },
  },
]
