/**
 * Pre-encoding of Stockyard `reading` PUBLISH packets with mqtt-packet's `generate`, a chunk at a
 * time: one contiguous Buffer per chunk, so sending n messages is one `socket.write` of a slice.
 * `ts` is stamped per chunk (a chunk lasts seconds), keeping it well inside the gateway's
 * accepted window; `seq` counts up per device, so (seq, ts) never repeats.
 */
import mqttPacket from 'mqtt-packet'
import type { Socket } from 'node:net'

/** Consecutive encoded PUBLISHes: message k is `buf[offsets[k], offsets[k + 1])` with packet id `ids[k]`. */
export interface EncodedChunk {
  buf: Buffer
  offsets: Uint32Array
  ids: Uint16Array
  count: number
}

/** The payload of one `reading` message (kind in the topic, fields per our contract). */
export function readingPayload(ts: number, seq: number): string {
  return `{"v":1,"ts":${ts},"metrics":{"temperature_c":4.2,"humidity_pct":61},"seq":${seq}}`
}

/** `stockyard/v1/{site}/{deviceId}/reading` */
export function readingTopic(site: string, deviceId: string): string {
  return `stockyard/v1/${site}/${deviceId}/reading`
}

/** Encodes the readings of one device; packet ids run 1..65535 and wrap (never 0 [MQTT-2.3.1-1]). */
export class ReadingEncoder {
  private readonly topic: string
  private seq: number
  private packetId = 0

  constructor(
    site: string,
    deviceId: string,
    private readonly chunkSize: number,
    seqStart: number,
  ) {
    this.topic = readingTopic(site, deviceId)
    this.seq = seqStart
  }

  /** Encode the next `chunkSize` messages, all stamped with `ts`. */
  next(ts: number): EncodedChunk {
    const count = this.chunkSize
    const parts: Buffer[] = new Array(count)
    const offsets = new Uint32Array(count + 1)
    const ids = new Uint16Array(count)
    let off = 0
    for (let k = 0; k < count; k++) {
      this.packetId = this.packetId === 65_535 ? 1 : this.packetId + 1
      ids[k] = this.packetId
      const packet = mqttPacket.generate({
        cmd: 'publish',
        qos: 1,
        dup: false,
        retain: false,
        topic: this.topic,
        payload: readingPayload(ts, this.seq++),
        messageId: this.packetId,
      })
      parts[k] = packet
      offsets[k] = off
      off += packet.length
    }
    offsets[count] = off
    return { buf: Buffer.concat(parts, off), offsets, ids, count }
  }
}

/** CONNECT, MQTT 3.1.1, clean session. */
export function encodeConnect(clientId: string, username: string, password: string, keepalive: number): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive,
    clientId,
    username,
    password: Buffer.from(password),
  })
}

/** DISCONNECT is always the same two bytes [MQTT-3.14]. */
export const DISCONNECT = Buffer.from([0xe0, 0x00])

/** The payload of one `status` heartbeat (kind in the topic, fields per our contract). */
export function statusPayload(ts: number, seq: number, uptimeS: number): string {
  return `{"v":1,"ts":${ts},"state":"online","battery_pct":87,"rssi_dbm":-61,"firmware":"2.4.1","uptime_s":${uptimeS},"seq":${seq}}`
}

/** One QoS 1 `status` PUBLISH on `stockyard/v1/{site}/{deviceId}/status`. */
export function encodeStatus(site: string, deviceId: string, messageId: number, ts: number, seq: number, uptimeS: number): Buffer {
  return mqttPacket.generate({
    cmd: 'publish',
    qos: 1,
    dup: false,
    retain: false,
    topic: `stockyard/v1/${site}/${deviceId}/status`,
    payload: statusPayload(ts, seq, uptimeS),
    messageId,
  })
}

/** DISCONNECT, end the socket, and wait (at most `timeoutMs`, then destroy it) for it to close. */
export async function disconnect(socket: Socket, timeoutMs: number): Promise<void> {
  if (socket.destroyed) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy()
      resolve()
    }, timeoutMs)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.end(DISCONNECT)
  })
}
