/**
 * aedes hooks: authenticate (CONNACK codes), authorizePublish (ACL + contract + durable ack),
 * authorizeSubscribe (SUBACK 0x80 on denial). The PUBACK of a QoS 1 PUBLISH is written by aedes
 * only after authorizePublish calls back, and we call back only after the group commit.
 */
import type { Aedes, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes'
import type { Config, InternalClient } from '../config/schema.ts'
import { verifySecret } from '../auth/secrets.ts'
import type { Logger } from '../core/log.ts'
import { parseTopic } from '../contracts/index.ts'
import type { IngestPipeline } from '../ingest/pipeline.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { DeviceRegistry } from '../store/types.ts'
import { canDevicePublish, canDeviceSubscribe, covers, TOPIC_ROOT } from './acl.ts'
import { identityOf, setIdentity } from './identity.ts'

/**
 * Refused messages are rewritten to this one `$` topic, so that no subscriber receives them. A fixed
 * topic, not a prefix: prefixing the device's topic could push it past aedes's 100-level ceiling,
 * and aedes then drops the connection right after the PUBACK.
 */
export const REJECTED_TOPIC = '$stockyard/rejected'

function refuse(code: 2 | 4 | 5, message: string): AuthenticateError {
  const err = new Error(message) as AuthenticateError
  err.returnCode = code
  return err
}

export interface HookDeps {
  config: Readonly<Config>
  devices: DeviceRegistry
  pipeline: IngestPipeline
  metrics: GatewayMetrics
  logger: Logger
  /** Internal clients the gateway made itself (Node-RED's), besides those in config. */
  internalClients?: readonly InternalClient[]
}

export function installHooks(broker: Aedes, deps: HookDeps): void {
  const { config, devices, pipeline, metrics, logger } = deps
  const internal = new Map([...config.mqtt.internalClients, ...(deps.internalClients ?? [])].map((c) => [c.username, c]))

  broker.authenticate = (client: Client, username: string | undefined, password: Buffer | undefined, callback) => {
    const fail = (code: 4 | 5, reason: string, message: string): void => {
      metrics.authFailures.inc({ reason })
      logger.warn({ clientId: client.id, username, reason }, 'mqtt connect refused')
      callback(refuse(code, message), false)
    }
    if (username === undefined || password === undefined) {
      if (config.mqtt.allowAnonymous) {
        setIdentity(client, { type: 'anonymous' })
        return callback(null, true)
      }
      // [MQTT-3.2.2-5] a refused CONNECT gets a non-zero return code, then the connection is closed.
      return fail(5, 'no_credentials', 'credentials required')
    }
    const secret = password.toString('utf8')
    const ic = internal.get(username)
    if (ic) {
      verifySecret(secret, ic.passwordHash).then(
        (ok) => {
          if (!ok) return fail(4, 'bad_password', 'bad user name or password')
          setIdentity(client, { type: 'internal', username, rights: ic })
          callback(null, true)
        },
        (err: Error) => callback(err as AuthenticateError, false),
      )
      return
    }
    devices.verify(username, secret).then(
      (r) => {
        if ('refused' in r) {
          if (r.refused === 'disabled') return fail(5, 'disabled', 'device disabled')
          return fail(4, r.refused, 'bad user name or password')
        }
        const d = r.device
        // A client id is a session key, and a CONNECT with a live session's id takes that session
        // over [MQTT-3.1.4-2]; so a device may only use its own id (or `{id}:suffix`), never another's.
        if (client.id !== d.id && !client.id.startsWith(d.id + ':')) {
          metrics.authFailures.inc({ reason: 'client_id' })
          logger.warn({ clientId: client.id, device: d.id }, 'mqtt connect refused: client id is not the device id')
          return callback(refuse(2, `client id must be ${d.id} or ${d.id}:<suffix>`), false)
        }
        setIdentity(client, { type: 'device', deviceId: d.id, site: d.site, zone: d.zone, secret: r.secret })
        callback(null, true)
      },
      (err: Error) => callback(err as AuthenticateError, false),
    )
  }

  // aedes's type declarations omit its persistence; this is the one method used here.
  const persistence = (broker as unknown as { persistence: { incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown> } }).persistence
  broker.authorizePublish = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) => {
    // Messages published by the gateway itself (client null) are trusted.
    if (!client) return callback(null)
    if (packet.qos === 2 && packet.dup) {
      // [MQTT-4.3.3-2] a QoS 2 resend (PUBREC lost) of a message we already took: aedes answers it
      // from its incoming store with PUBREC alone, so it must not be stored a second time.
      persistence.incomingGetPacket(client, packet).then(
        () => callback(null),
        () => authorize(client, packet, callback),
      )
      return
    }
    authorize(client, packet, callback)
  }

  function authorize(client: Client, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    const id = identityOf(client)
    const topic = packet.topic
    // A device's `$` topic falls to its ACL below and is refused with a reason, like any foreign topic.
    if (topic.startsWith('$') && id?.type !== 'device') return callback(new Error('$ topics are reserved'))
    if (!id || id.type === 'internal') {
      if (id && !id.rights.publish.some((p) => covers(p, topic))) {
        metrics.authFailures.inc({ reason: 'acl_publish' })
        return callback(new Error(`not allowed to publish to ${topic}`))
      }
      return callback(null)
    }
    let sender
    if (id.type === 'device') {
      sender = { deviceId: id.deviceId, site: id.site, zone: id.zone }
      if (!canDevicePublish(id.site, id.deviceId, topic)) {
        metrics.authFailures.inc({ reason: 'acl_publish' })
        // [MQTT-3.3.5-2] an unauthorised PUBLISH gets a positive ack or a closed connection; we ack
        // it (after recording the refusal) so the device keeps its session and learns why on /errors.
        return refuseMessage('topic.not_allowed', `device ${id.deviceId} may publish only under ${TOPIC_ROOT}/${id.site}/${id.deviceId}/`)
      }
    } else {
      // Anonymous (development mode): stockyard topics are still checked against the contract.
      if (!topic.startsWith(TOPIC_ROOT + '/')) return callback(null)
      const parts = topic.split('/')
      const device = parts[3] ? devices.get(parts[3]) : null
      sender = { deviceId: parts[3] ?? '', site: parts[2] ?? '', zone: device?.zone ?? '' }
    }
    const parsed = parseTopic(topic, config.ingest.maxTopicLevels)
    if (!parsed.ok) return refuseMessage(parsed.code, parsed.message)
    if (parsed.site !== config.site) return refuseMessage('topic.not_allowed', `this gateway serves site ${config.site}, not ${parsed.site}`)
    pipeline.submit(sender, parsed.kind, topic, packet.payload as Buffer, (err, outcome) => {
      // aedes forwards the packet only after this callback, so a refused one can still be hidden.
      if (!err && outcome === 'rejected') hideFromSubscribers(packet)
      callback(err)
    })
    return

    function refuseMessage(code: Parameters<IngestPipeline['reject']>[0], message: string): void {
      hideFromSubscribers(packet)
      pipeline.reject(code, message, sender!, topic, packet.payload as Buffer, (err) => callback(err))
    }
  }

  broker.authorizeSubscribe = (client: Client | null, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void) => {
    const id = identityOf(client)
    // Refused messages are parked on REJECTED_TOPIC; nobody, whatever their rights, may read it.
    let allowed: boolean
    if (sub.topic.startsWith('$stockyard')) allowed = false
    else if (!id || id.type === 'anonymous') allowed = true
    else if (id.type === 'device') allowed = canDeviceSubscribe(id.site, id.deviceId, sub.topic)
    else allowed = id.rights.subscribe.some((p) => covers(p, sub.topic))
    if (allowed) return callback(null, sub)
    metrics.authFailures.inc({ reason: 'acl_subscribe' })
    logger.warn({ clientId: client?.id, topic: sub.topic }, 'subscription refused')
    // [MQTT-3.9.3] a null subscription makes aedes answer 0x80 (failure) for this filter only.
    callback(null, null)
  }
}

/**
 * A refused PUBLISH still goes through aedes's publish step after its ack; moving it under a
 * `$` topic that no one is allowed to subscribe to keeps it from every subscriber
 * ([MQTT-4.7.2-1]: `#` and `+` filters never match `$` topics) and from the retained store.
 */
export function hideFromSubscribers(packet: PublishPacket): void {
  packet.topic = REJECTED_TOPIC
  packet.retain = false
}
