/**
 * `stockyard demo` (what `npm start` runs): the gateway on ./data with a simulated warehouse feeding
 * it in real time: the scenario `demo.scenario` (simulators/scenarios/small.yaml), every device a real
 * MQTT client over TCP with its own credentials. When the scenario's run is over it starts again with
 * the next seed.
 */
import { runStart } from '../gateway/cli/start.ts'
import { systemClock } from '../gateway/core/clock.ts'
import { createLogger } from '../gateway/core/log.ts'
import { drive } from './driver.ts'
import { WarehouseModel } from './model.ts'
import { DEFAULT_SCENARIO, provision, startOf } from './run.ts'
import { loadScenario, type Scenario } from './scenario.ts'
import { openAnalyticsDb } from '../gateway/analytics/db.ts'
import { DAY_MS, DEMAND_DDL } from '../gateway/analytics/demand.ts'
import { dailyDemand } from './demand.ts'

/** Days of simulated demand history the demo gives SKUs that have none. */
const HISTORY_DAYS = 56

/**
 * The demo warehouse starts today, so it has no demand history to forecast from. Give each scenario
 * SKU without any `HISTORY_DAYS` days of daily demand from the same process the simulator picks with
 * (simulators/demand.ts), written straight into the analytics database's demand ledger (what weeks of
 * picks would have left there; the event log and stock are untouched). Returns the SKUs seeded.
 */
export function seedDemandHistory(dataDir: string, scenario: Scenario, days: number, seed: number): number {
  const db = openAnalyticsDb(dataDir)
  try {
    db.exec(DEMAND_DDL)
    const has = db.prepare('SELECT 1 FROM analytics_demand WHERE sku = ? LIMIT 1')
    const put = db.prepare('INSERT OR IGNORE INTO analytics_demand (sku, day, units, lines) VALUES (?, ?, ?, ?)')
    const first = Math.floor(Date.now() / DAY_MS) - days
    let n = 0
    db.transaction(() => {
      scenario.skus.forEach((k, i) => {
        if (has.get(k.sku)) return
        n++
        dailyDemand(k.demand, days, { seed: seed * 1000 + i, start: first * DAY_MS }).units.forEach((u, d) => u > 0 && put.run(k.sku, first + d, u, 1))
      })
    })()
    return n
  } finally {
    db.close()
  }
}

export async function runDemo(argv: string[]): Promise<void> {
  // The demo shows everything: Node-RED too (config or STOCKYARD_NODE_RED_ENABLED=false turns it off).
  const gw = await runStart(argv, { nodeRed: { enabled: true } })
  const scenario = loadScenario(gw.config.demo.scenario ?? DEFAULT_SCENARIO)
  const log = createLogger(gw.config.log.level).child({ c: 'demo' })
  const viewer = gw.store.tokens.add('viewer', 'demo')
  const host = gw.config.host
  const reach = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const stopping = new AbortController()
  process.once('SIGTERM', () => stopping.abort())
  process.once('SIGINT', () => stopping.abort())
  let seed = gw.config.demo.seed
  if (gw.analytics) {
    const seeded = seedDemandHistory(gw.config.dataDir, scenario, HISTORY_DAYS, seed)
    if (seeded > 0) {
      log.info({ skus: seeded, days: HISTORY_DAYS }, 'demo: seeded simulated demand history so there is something to forecast; re-fitting')
      const failed = (err: unknown): void => log.warn({ err }, 'demo: the first re-fit failed; the nightly one will forecast')
      try {
        gw.analytics.refit().catch(failed)
      } catch (err) {
        failed(err)
      }
    }
  }
  let announced = false
  while (!stopping.signal.aborted) {
    const model = new WarehouseModel(scenario, seed, startOf(scenario, Date.now(), true), () => undefined)
    const passwords = await provision(gw.store.devices, gw.config.site, model.devices)
    if (!announced) {
      announced = true
      process.stdout.write(
        JSON.stringify({
          msg: 'stockyard demo running',
          scenario: scenario.name,
          devices: model.devices.length,
          mqtt: `mqtt://${host}:${gw.ports.mqtt}`,
          ws: `ws://${host}:${gw.ports.ws}`,
          api: `http://${host}:${gw.ports.http}/api/v1/devices`,
          metrics: `http://${host}:${gw.ports.http}/metrics`,
          dashboard: `http://${host}:${gw.ports.http}/`,
          ...(gw.nodeRed ? { nodeRed: `http://${host}:${gw.ports.http}/red/ (admin: npx stockyard tokens add --role admin, then log in at /)` } : {}),
          viewerToken: viewer.token,
          try: `curl -H 'Authorization: Bearer ${viewer.token}' 'http://${host}:${gw.ports.http}/api/v1/stock'`,
        }) + '\n',
      )
    }
    try {
      await drive({ model, url: `mqtt://${reach}:${gw.ports.mqtt}`, site: gw.config.site, passwords, clock: systemClock, tickMs: 200, signal: stopping.signal })
    } catch (err) {
      if (stopping.signal.aborted) return
      log.error({ err }, 'the simulated warehouse stopped; starting it again')
      await new Promise((resolve) => setTimeout(resolve, 5000))
    }
    seed++
  }
}
