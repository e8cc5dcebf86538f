/**
 * One generator connection: a raw TCP socket, pre-encoded PUBLISHes, a window of un-acked
 * packet ids and the publish -> PUBACK latency of each. Lifecycle: `connect` (resolves on CONNACK
 * 0) -> `send` any number of times (the runner decides how many) -> `close`. Single-threaded:
 * every method runs on the generator's event loop.
 */
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { CONNACK, FrameReader, PUBACK } from './frames.ts'
import { disconnect, ReadingEncoder, encodeConnect, type EncodedChunk } from './encode.ts'
import type { LatencyRecorder } from './latency.ts'
import type { DeviceIdentity } from './types.ts'

const CONNACK_CODES: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
}

export interface ConnectionOptions {
  host: string
  port: number
  site: string
  device: DeviceIdentity
  window: number
  chunkSize: number
  seqStart: number
  connectTimeoutMs: number
}

export class LoadConnection {
  sent = 0
  acked = 0
  inflight = 0
  unexpectedAcks = 0
  /** Set by the runner: called once per socket read that carried PUBACKs (to refill the window). */
  onAcks: () => void = () => {}
  private readonly socket: net.Socket
  /** Write time (performance.now, i.e. hrtime-based) per in-flight packet id; -1 when not in flight. */
  private readonly sentAt = new Float64Array(65_536).fill(-1)
  private readonly encoder: ReadingEncoder
  private chunk: EncodedChunk | null = null
  private idx = 0
  private connack: ((rc: number) => void) | null = null
  /** Receive time of the current socket read, shared by every PUBACK in it. */
  private now = 0

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly latency: LatencyRecorder,
  ) {
    this.encoder = new ReadingEncoder(opts.site, opts.device.id, opts.chunkSize, opts.seqStart)
    const reader = new FrameReader((type, buf, start) => this.frame(type, buf, start))
    this.socket = new net.Socket()
    this.socket.setNoDelay(true)
    this.socket.on('data', (data: Buffer) => {
      const before = this.acked
      this.now = performance.now()
      reader.push(data)
      if (this.acked !== before) this.onAcks()
    })
  }

  /** Connect and wait for CONNACK; rejects with the broker's reason or on timeout. */
  async connect(): Promise<void> {
    const { host, port, device, connectTimeoutMs } = this.opts
    // Encode the first chunk before the clock starts.
    this.chunk = this.encoder.next(Date.now())
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no CONNACK within ${connectTimeoutMs} ms`)), connectTimeoutMs)
      const fail = (err: Error): void => {
        clearTimeout(timer)
        this.connack = null
        this.socket.destroy()
        reject(new Error(`${device.id}@${host}:${port}: ${err.message}`))
      }
      this.socket.once('error', fail)
      this.socket.once('close', () => fail(new Error('connection closed before CONNACK')))
      this.connack = (rc) => {
        clearTimeout(timer)
        this.socket.removeAllListeners('error').removeAllListeners('close')
        this.socket.on('error', () => {}) // a late reset is reported as unacked messages, not a crash
        if (rc === 0) resolve()
        else fail(new Error(`CONNACK refused: ${CONNACK_CODES[rc] ?? `code ${rc}`}`))
      }
      this.socket.connect(port, host, () => {
        this.socket.write(encodeConnect(device.clientId ?? device.id, device.username, device.password, 120))
      })
    })
  }

  /** Send up to `max` messages, as many as the window allows, in one or two writes. Returns the count. */
  send(max: number): number {
    const n = Math.min(max, this.opts.window - this.inflight)
    let done = 0
    while (done < n) {
      if (this.idx === this.chunk!.count) {
        this.chunk = this.encoder.next(Date.now())
        this.idx = 0
      }
      const c = this.chunk!
      const m = Math.min(n - done, c.count - this.idx)
      const t = performance.now()
      for (let k = this.idx; k < this.idx + m; k++) this.sentAt[c.ids[k]!] = t
      this.socket.write(c.buf.subarray(c.offsets[this.idx]!, c.offsets[this.idx + m]!))
      this.idx += m
      done += m
    }
    this.sent += done
    this.inflight += done
    return done
  }

  /** DISCONNECT, end, and wait (bounded) for the socket to close. */
  close(timeoutMs = 2000): Promise<void> {
    return disconnect(this.socket, timeoutMs)
  }

  private frame(type: number, buf: Buffer, start: number): void {
    if (type === PUBACK) {
      const id = buf.readUInt16BE(start)
      const t0 = this.sentAt[id]!
      if (t0 < 0) {
        this.unexpectedAcks++
        return
      }
      this.sentAt[id] = -1
      this.acked++
      this.inflight--
      this.latency.record(this.now - t0)
    } else if (type === CONNACK && this.connack) {
      const cb = this.connack
      this.connack = null
      cb(buf[start + 1]!)
    }
  }
}
