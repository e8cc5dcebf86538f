/** `stockyard start`: run the gateway until SIGTERM/SIGINT, then flush and close cleanly. */
import { loadConfig } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import { createLogger } from '../core/log.ts'
import { startGateway, type Gateway } from '../gateway.ts'
import { parseFlags, portFlag } from './args.ts'

export const startFlags = {
  data: { type: 'string' },
  config: { type: 'string' },
  site: { type: 'string' },
  host: { type: 'string' },
  'mqtt-port': { type: 'string' },
  'ws-port': { type: 'string' },
  'http-port': { type: 'string' },
  'log-level': { type: 'string' },
  'allow-anonymous': { type: 'boolean' },
  'sync-full': { type: 'boolean' },
} as const

/** Build validated config from flags + env + file, over a command's `defaults`. */
export function configFromFlags(argv: string[], defaults: Record<string, unknown> = {}): Readonly<Config> {
  const { values } = parseFlags(argv, startFlags)
  const overrides: Record<string, unknown> = {}
  const mqtt: Record<string, unknown> = {}
  if (values.data !== undefined) overrides.dataDir = values.data
  if (values.site !== undefined) overrides.site = values.site
  if (values.host !== undefined) overrides.host = values.host
  if (values['log-level'] !== undefined) overrides.log = { level: values['log-level'] }
  if (values['sync-full']) overrides.store = { synchronous: 'FULL' }
  const mp = portFlag(values['mqtt-port'], 'mqtt-port')
  const wp = portFlag(values['ws-port'], 'ws-port')
  const hp = portFlag(values['http-port'], 'http-port')
  if (mp !== undefined) mqtt.port = mp
  if (wp !== undefined) mqtt.wsPort = wp
  if (values['allow-anonymous']) mqtt.allowAnonymous = true
  if (Object.keys(mqtt).length) overrides.mqtt = mqtt
  if (hp !== undefined) overrides.http = { port: hp }
  return loadConfig({ file: values.config, env: process.env, overrides, defaults })
}

/** Stop on the first SIGTERM/SIGINT; a second one exits at once. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false
  const onSignal = (): void => {
    if (stopping) process.exit(1)
    stopping = true
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

export async function runStart(argv: string[], defaults: Record<string, unknown> = {}): Promise<Gateway> {
  const config = configFromFlags(argv, defaults)
  const logger = createLogger(config.log.level)
  const gateway = await startGateway(config, { logger })
  stopOnSignals(() => gateway.stop())
  return gateway
}
