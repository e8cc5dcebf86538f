/**
 * Plays a WarehouseModel through a real broker: one mqtt.js client per device with its own
 * credentials, QoS 1, each action sent when the clock reaches its simulated time. The clock is the
 * gateway's (`scaledClock` with the same numbers), so at 3,600 x a simulated day takes 24 s and the
 * gateway's `for` timers and deadlines run on the same time as the devices.
 */
import mqtt, { type MqttClient } from 'mqtt'
import type { Clock } from '../gateway/core/clock.ts'
import type { Action, SimDevice } from './model.ts'

/** What the driver plays: the warehouse model, or a recording (replay.ts). */
export interface Playable {
  readonly devices: readonly SimDevice[]
  readonly start: number
  readonly end: number
  /** How far it has got, in simulated time. */
  readonly now: number
  readonly done: boolean
  /** The actions due before simulated time `to`, in order. */
  advance(to: number): Action[]
}

export interface DriveOptions {
  model: Playable
  /** mqtt://host:port of the broker. */
  url: string
  site: string
  /** Password of each device (the username and client id are the device id). */
  passwords: ReadonlyMap<string, string>
  clock: Clock
  /** How often the driver looks at the clock (real ms). */
  tickMs?: number
  /** Called after each tick with the share of the run done (0..1). */
  onProgress?: (done: number) => void
  signal?: AbortSignal
}

export interface DriveResult {
  published: number
  acked: number
  failed: number
  /** Wrong-password connections the broker refused (as it should), of those attempted. */
  badLogins: { attempted: number; refused: number }
  dropouts: number
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function drive(opts: DriveOptions): Promise<DriveResult> {
  const { model, clock } = opts
  const clients = new Map<string, MqttClient>()
  const result: DriveResult = { published: 0, acked: 0, failed: 0, badLogins: { attempted: 0, refused: 0 }, dropouts: 0 }
  const inFlight = new Set<Promise<void>>()
  /** What a device made while it was offline or reconnecting: sent, in order, once it is connected. */
  const held = new Map<string, Action[]>()
  const connect = async (device: string): Promise<MqttClient> => {
    const password = opts.passwords.get(device)
    if (password === undefined) throw new Error(`no password for simulated device ${device}`)
    const client = await mqtt.connectAsync(opts.url, { clientId: device, username: device, password, reconnectPeriod: 1000, connectTimeout: 10_000 })
    client.on('error', () => undefined)
    clients.set(device, client)
    return client
  }
  const track = (p: Promise<void>): void => {
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
  }
  const perform = (a: Action): void => {
    switch (a.type) {
      case 'publish': {
        const client = clients.get(a.device)
        if (!client) {
          held.set(a.device, [...(held.get(a.device) ?? []), a])
          return
        }
        const topic = `stockyard/v1/${opts.site}/${a.topicDevice ?? a.device}/${a.kind}`
        const body = typeof a.payload === 'string' ? a.payload : JSON.stringify(a.payload)
        result.published++
        track(
          client.publishAsync(topic, body, { qos: 1 }).then(
            () => void result.acked++,
            () => void result.failed++,
          ),
        )
        return
      }
      case 'offline': {
        const client = clients.get(a.device)
        clients.delete(a.device)
        result.dropouts++
        // Whatever it sent is acknowledged first (a clean disconnect), so nothing is resent twice.
        if (client) track(client.endAsync(false))
        return
      }
      case 'online':
        track(
          connect(a.device).then(() => {
            const waiting = held.get(a.device) ?? []
            held.delete(a.device)
            for (const w of waiting) perform(w)
          }),
        )
        return
      case 'bad_login':
        result.badLogins.attempted++
        track(
          badLogin(opts.url, a.device).then((refused) => {
            if (refused) result.badLogins.refused++
          }),
        )
        return
    }
  }

  try {
    for (const d of model.devices) await connect(d.id)
    const span = model.end - model.start
    while (!model.done) {
      if (opts.signal?.aborted) throw new Error('simulation aborted')
      const actions = model.advance(clock.now())
      for (const a of actions) perform(a)
      opts.onProgress?.(Math.min(1, Math.max(0, (model.now - model.start) / span)))
      if (!model.done) await tick(opts.tickMs ?? 20)
    }
    while (inFlight.size > 0) await Promise.all(inFlight)
    if (held.size > 0) throw new Error(`devices never came back online: ${[...held.keys()].join(', ')}`)
    return result
  } finally {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true).catch(() => undefined)))
  }
}

/** Connect with a wrong password; true when the broker refuses it. */
async function badLogin(url: string, device: string): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(url, {
      clientId: `${device}:bad`,
      username: device,
      password: 'not-the-password',
      reconnectPeriod: 0,
      connectTimeout: 5000,
    })
    await client.endAsync(true)
    return false
  } catch {
    return true
  }
}
