/**
 * A tiny reader of the broker -> client MQTT stream, used instead of mqtt-packet's parser.
 *
 * Why hand-rolled: the generator reads tens of thousands of PUBACKs per second on a 2-core box
 * where the broker needs the other core. mqtt-packet's parser allocates a packet object per
 * PUBACK, copies through a BufferList and emits an event per packet; here a PUBACK costs one
 * readUInt16BE and no allocation. The only packets we act on have fixed shapes in MQTT 3.1.1:
 * CONNACK `20 02 flags rc` [MQTT-3.2] and PUBACK `40 02 idHi idLo` [MQTT-3.4]. Anything else
 * (PINGRESP, ...) is framed by the generic fixed header (type nibble + variable-length
 * "remaining length" [MQTT-2.2.3]) and handed over untouched, so the stream never desynchronises.
 */

export const CONNACK = 2
export const PUBACK = 4

/** Called per complete packet with its type and the [start, end) range of its body inside `buf`. */
export type FrameHandler = (type: number, buf: Buffer, start: number, end: number) => void

/** Splits a byte stream into MQTT packets; keeps at most one partial packet between chunks. */
export class FrameReader {
  private pending: Buffer | null = null

  constructor(private readonly onFrame: FrameHandler) {}

  /** Feed one chunk from the socket; calls the handler for every packet it completes. */
  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk
    this.pending = null
    let i = 0
    while (i < buf.length) {
      // Remaining length: 1-4 bytes, 7 bits each, high bit = "more follows" [MQTT-2.2.3].
      let len = 0
      let mul = 1
      let j = i + 1
      let complete = false
      for (let k = 0; k < 4 && j < buf.length; k++, j++) {
        const b = buf[j]!
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) {
          complete = true
          j++
          break
        }
        if (k === 3) throw new Error('malformed MQTT remaining length (more than 4 bytes)')
      }
      if (!complete || j + len > buf.length) break
      this.onFrame(buf[i]! >> 4, buf, j, j + len)
      i = j + len
    }
    // Copy the tail so the (possibly large) chunk it came from can be collected.
    if (i < buf.length) this.pending = Buffer.from(buf.subarray(i))
  }
}
