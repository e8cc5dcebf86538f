/**
 * Options and results of the MQTT load generator. Both cross a process boundary (the bench forks
 * the generator), so they are plain JSON data: no functions, no class instances.
 */

/** One device = one MQTT connection with its own credentials. */
export interface DeviceIdentity {
  /** Device id: the `{deviceId}` topic level. */
  id: string
  username: string
  password: string
  /** Defaults to `id`. */
  clientId?: string
}

/** `max`: keep every window full for the whole duration. `rate`: a fixed total rate, paced in small ticks. */
export type LoadMode = { kind: 'max' } | { kind: 'rate'; msgPerSec: number }

export interface LoadOptions {
  /** 127.0.0.1 unless you know why not. */
  host: string
  port: number
  /** The `{site}` topic level. */
  site: string
  /** One connection per device. */
  devices: DeviceIdentity[]
  mode: LoadMode
  /** How long messages are sent; the drain (waiting for the last PUBACKs) comes after. */
  durationMs: number
  /** Max un-acknowledged PUBLISHes per connection. Default 100. */
  window?: number
  /** How long to wait for outstanding PUBACKs after the send phase. Default 5000. */
  drainMs?: number
  /** How long to wait for every CONNACK. Default 5000. */
  connectTimeoutMs?: number
  /** Messages pre-encoded per connection at a time; `ts` is refreshed per chunk. Default 2048. */
  chunkSize?: number
  /** Pacing tick of `rate` mode. Default 1 ms (the timer floor), so sends are spread, not bursty. */
  tickMs?: number
  /** First `seq` of every device. Default 1. */
  seqStart?: number
  /** Latency samples kept (8 bytes each); later ones are counted but not recorded. Default 2,000,000. */
  maxSamples?: number
}

export interface LatencySummary {
  /** Milliseconds, publish write -> PUBACK read, nearest-rank percentiles. */
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
  samples: number
}

export interface LoadResult {
  mode: LoadMode['kind']
  /** Total rate asked for in `rate` mode, else null. */
  targetRate: number | null
  connections: number
  window: number
  durationMs: number
  /** Start of sending -> last PUBACK (or end of the drain if some never came). */
  elapsedMs: number
  sent: number
  acked: number
  /** Sent but never acknowledged within the drain. */
  unacked: number
  /** PUBACKs for a packet id that was not in flight (a broker bug or a generator bug). */
  unexpectedAcks: number
  /** `rate` mode: the most messages that were ever behind schedule because windows were full. */
  maxBacklog: number
  /** Acknowledged messages per second: over `elapsedMs` in `max` mode, over `durationMs` in `rate` mode. */
  rate: number
  latencyMs: LatencySummary
  /** The generator's own CPU over the run, as a fraction of one core (user + system). */
  cpuCores: number
}

/**
 * Many devices, each connected for the whole run and publishing one QoS 1 `status` heartbeat every
 * `intervalMs` (phases spread evenly over the interval). Plain JSON, like LoadOptions.
 */
export interface HeartbeatOptions {
  host: string
  port: number
  site: string
  /** One connection per device. */
  devices: DeviceIdentity[]
  /** Time between two heartbeats of one device. */
  intervalMs: number
  /** How long heartbeats are sent once every device is connected (or has failed to). */
  durationMs: number
  /** CONNECTs in flight at once (more overflow the listen backlog: a dropped SYN costs a 1 s retransmit). Default 100. */
  connectConcurrency?: number
  /** Per connection: TCP connect -> CONNACK. Default 30,000. */
  connectTimeoutMs?: number
  /** How long to wait for outstanding PUBACKs after the send phase. Default 5000. */
  drainMs?: number
  /** First `seq` of every device. Default 1. */
  seqStart?: number
}

export interface HeartbeatResult {
  devices: number
  connected: number
  /** Connections refused or timed out; `firstError` says why. */
  failed: number
  firstError: string | null
  /** First TCP connect -> last CONNACK (of those that connected). */
  connectMs: number
  /** Per connection: TCP connect started -> CONNACK read. */
  connectLatencyMs: LatencySummary
  intervalMs: number
  durationMs: number
  /** Heartbeats per second asked for (connected / interval). */
  targetRate: number
  sent: number
  acked: number
  unacked: number
  /** A heartbeat was due while the device's previous ones still filled its small window: not sent. */
  skipped: number
  /** Connections that closed during the heartbeat phase. */
  dropped: number
  /** Publish write -> PUBACK read. */
  latencyMs: LatencySummary
  /** The generator's CPU over connect + heartbeats, as a fraction of one core. */
  cpuCores: number
}
