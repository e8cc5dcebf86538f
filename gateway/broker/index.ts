/**
 * The MQTT broker: aedes with Stockyard's hooks and transports. Persistence and emitter are
 * aedes's pluggable ones (in-memory by default); a multi-box site can pass aedes-persistence-redis
 * and mqemitter-redis through `BrokerOptions` without touching the hooks.
 */
import { Aedes, type AedesOptions, type Client } from 'aedes'
import { errorsTopic } from './acl.ts'
import { installHooks, type HookDeps } from './hooks.ts'
import { identityOf } from './identity.ts'
import { startListeners, type Listeners } from './listeners.ts'

export interface BrokerOptions {
  persistence?: AedesOptions['persistence']
  mq?: AedesOptions['mq']
}

export interface Broker {
  aedes: Aedes
  ports: Listeners['ports']
  /** Drop live sessions of devices that were disabled or whose password was rotated. */
  recheckDevices(): void
  close(): Promise<void>
}

export async function startBroker(deps: HookDeps, opts: BrokerOptions = {}): Promise<Broker> {
  const { config, devices, pipeline, metrics, logger } = deps
  const aedes = await Aedes.createBroker({
    id: `stockyard-${config.site}`,
    persistence: opts.persistence,
    mq: opts.mq,
    // Our contract reports too many levels as `topic.too_many_levels` without dropping the
    // connection; aedes's own check (which disconnects) is set to its ceiling.
    maxTopicLevels: 100,
    heartbeatInterval: 60_000,
  })
  installHooks(aedes, deps)

  const clients = new Map<string, Client>()
  aedes.on('client', (client) => {
    metrics.connectedClients.inc()
    const id = identityOf(client)
    if (id?.type === 'device') {
      clients.set(client.id, client)
      pipeline.presence(id.deviceId, 'online')
    }
  })
  aedes.on('clientDisconnect', (client) => {
    metrics.connectedClients.dec()
    const id = identityOf(client)
    if (id?.type === 'device') {
      if (clients.get(client.id) === client) clients.delete(client.id)
      pipeline.presence(id.deviceId, 'offline')
    }
  })
  aedes.on('clientError', (client, err) => logger.debug({ clientId: client.id, err: err.message }, 'client error'))
  aedes.on('connectionError', (_client, err) => logger.debug({ err: err.message }, 'connection error'))

  // Refusals are explained to the device on its errors topic, after they are committed.
  pipeline.on('rejected', (r) => {
    if (!r.device || !r.site) return
    const payload = JSON.stringify({ code: r.code, message: r.message, topic: r.topic, seq: r.seq ?? null })
    aedes.publish({ cmd: 'publish', topic: errorsTopic(r.site, r.device), payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, (err) => {
      if (err) logger.warn({ err }, 'could not publish to errors topic')
    })
  })

  const listeners = await startListeners(aedes, config)
  return {
    aedes,
    ports: listeners.ports,
    recheckDevices() {
      for (const client of clients.values()) {
        const id = identityOf(client)
        if (id?.type !== 'device') continue
        const d = devices.get(id.deviceId)
        if (!d || d.disabled || devices.secretOf(id.deviceId) !== id.secret) {
          logger.info({ device: id.deviceId }, 'device disabled or rotated; closing its session')
          client.close()
        }
      }
    },
    async close() {
      // Stop accepting first; a server's close waits for its open connections, which only
      // aedes.close() ends (it closes every client), so await the servers after it.
      const serversClosed = listeners.close()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await serversClosed
    },
  }
}
