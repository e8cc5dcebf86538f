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
import { loadScenario } from './scenario.ts'

export async function runDemo(argv: string[]): Promise<void> {
  const gw = await runStart(argv)
  const scenario = loadScenario(gw.config.demo.scenario ?? DEFAULT_SCENARIO)
  const log = createLogger(gw.config.log.level).child({ c: 'demo' })
  const viewer = gw.store.tokens.add('viewer', 'demo')
  const host = gw.config.host
  const reach = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const stopping = new AbortController()
  process.once('SIGTERM', () => stopping.abort())
  process.once('SIGINT', () => stopping.abort())
  let seed = gw.config.demo.seed
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
