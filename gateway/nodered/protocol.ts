/** Messages between the broker thread (host.ts) and the Node-RED worker thread (worker.ts). */

export interface NodeRedWorkerData {
  /** Node-RED's userDir: flows.json, flows_cred.json, context. */
  userDir: string
  /** Where the shipped flows (`*.json`) are read from on first start. */
  flowsDir: string
  /** Directories of custom nodes (Node-RED's `nodesDir`); missing ones are skipped. */
  nodesDir: string[]
  /** Unix socket the worker's HTTP server listens on; only the gateway's proxy connects to it. */
  socketPath: string
  credentialSecret: string
  /** Secret the proxy sends in `RED_TOKEN_HEADER` once it has checked the caller is an admin. */
  proxyToken: string
  httpAdminRoot: string
  httpNodeRoot: string
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
  nice: number
}

/** The header the gateway's proxy sets and Node-RED's `adminAuth.tokens` checks. */
export const RED_TOKEN_HEADER = 'x-stockyard-red'

export type ToNodeRedWorker = { type: 'close' }

export type FromNodeRedWorker =
  /** Node-RED runs (its editor answers); `problem` says why its flows did not start, if they did not. */
  | { type: 'ready'; startMs: number; seeded: number; flows: number; problem?: string }
  | { type: 'log'; level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'; msg: string; node?: { id: string; type: string; name?: string } }
  | { type: 'failed'; message: string }
