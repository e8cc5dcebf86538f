/**
 * The HTTP API: probes, Prometheus metrics, series, devices, rejections, the warehouse (alerts,
 * silences, rules, stock, shipments, SKUs) and the OpenAPI document. Each route group lives in its own
 * file as a list of `Route`s; this file mounts them with their access check and the one error mapping.
 */
import { Hono } from 'hono'
import { alertRoutes } from './alerts.ts'
import { analyticsRoutes } from './analytics.ts'
import { authorize } from './auth.ts'
import { dashboardRoutes } from './dashboards.ts'
import type { HttpDeps } from './deps.ts'
import { deviceRoutes } from './devices.ts'
import { notFound, onError } from './errors.ts'
import { healthRoutes } from './health.ts'
import { hqRoutes } from './hq.ts'
import { metricsRoutes } from './metrics.ts'
import { movementRoutes } from './movements.ts'
import { mountNodeRed } from './nodered.ts'
import { openApiRoutes } from './openapi.ts'
import { rejectionRoutes } from './rejections.ts'
import { honoPath, type Route } from './route.ts'
import { ruleRoutes } from './rules.ts'
import { seriesRoutes } from './series.ts'
import { sessionRoutes } from './session.ts'
import { shipmentRoutes } from './shipments.ts'
import { silenceRoutes } from './silences.ts'
import { skuRoutes } from './skus.ts'
import { statusRoutes } from './status.ts'
import { stockRoutes } from './stock.ts'
import { mountUiAssets } from './ui-assets.ts'

export type { HttpDeps } from './deps.ts'
export type { Access, Method, Route } from './route.ts'
export { startHttpServer, type HttpServer, type HttpServerOptions } from './server.ts'
export { nodeRedUpgrade } from './nodered.ts'

/** Every route of the API; adding a group is one file plus one entry here. */
export const ROUTES: readonly Route[] = [
  ...healthRoutes,
  ...openApiRoutes,
  ...metricsRoutes,
  ...statusRoutes,
  ...seriesRoutes,
  ...deviceRoutes,
  ...rejectionRoutes,
  ...alertRoutes,
  ...silenceRoutes,
  ...ruleRoutes,
  ...stockRoutes,
  ...movementRoutes,
  ...shipmentRoutes,
  ...skuRoutes,
  ...analyticsRoutes,
  ...sessionRoutes,
  ...dashboardRoutes,
  ...hqRoutes,
]

/**
 * Build the API app; the caller binds it with `startHttpServer`.
 * @example const server = await startHttpServer(createHttpApp(deps), config.host, config.http.port)
 */
export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono()
  for (const route of ROUTES) {
    app.on(route.method, honoPath(route.path), authorize(route.access, deps.tokens), (c) => route.handle(c, deps))
  }
  if (deps.nodeRed) mountNodeRed(app, deps.nodeRed, deps.tokens)
  mountUiAssets(app)
  app.notFound(notFound)
  app.onError(onError(deps.log))
  return app
}
