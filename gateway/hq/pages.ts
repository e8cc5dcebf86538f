/**
 * The broker thread's side of the HQ page reader (page-worker.ts): asks it for pages and hands the
 * bytes to the response. One thread serves every pull in turn; it starts with the first pull and is
 * started again if it dies (the pull that was waiting fails and HQ resumes from its checkpoint).
 */
import { Worker } from 'node:worker_threads'
import type { HqStream } from './cursor.ts'

export interface PageRequest {
  id: number
  stream: HqStream
  after: number
  limit: number
}

export type PageReply = { id: number; ok: true; bytes: Uint8Array; count: number; lastSeq: number } | { id: number; ok: false; error: string }

export class HqPages {
  private worker: Worker | undefined
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (r: { bytes: Uint8Array; count: number; lastSeq: number }) => void; reject: (e: Error) => void }>()

  constructor(private readonly opts: { dbPath: string; site: string }) {}

  /** NDJSON bytes of up to `limit` rows of `stream` after `after`, the row count and the last row's position. */
  page(stream: HqStream, after: number, limit: number): Promise<{ bytes: Uint8Array; count: number; lastSeq: number }> {
    const worker = this.start()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      worker.postMessage({ id, stream, after, limit } satisfies PageRequest)
    })
  }

  async close(): Promise<void> {
    const w = this.worker
    this.worker = undefined
    if (w) await w.terminate()
  }

  private start(): Worker {
    if (this.worker) return this.worker
    const worker = new Worker(new URL('./page-worker-entry.mjs', import.meta.url), { workerData: this.opts })
    worker.unref()
    worker.on('message', (m: PageReply) => {
      const w = this.waiting.get(m.id)
      if (!w) return
      this.waiting.delete(m.id)
      if (m.ok) w.resolve({ bytes: m.bytes, count: m.count, lastSeq: m.lastSeq })
      else w.reject(new Error(m.error))
    })
    const fail = (err: Error): void => {
      if (this.worker === worker) this.worker = undefined
      for (const w of this.waiting.values()) w.reject(err)
      this.waiting.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`the HQ page reader exited (${code})`)))
    this.worker = worker
    return worker
  }
}
