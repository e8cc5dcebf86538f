/**
 * Contracts of the storage layer. The embedded SQLite store implements all of them today; the
 * InfluxDB sink (its own issue) implements `SeriesStore` reads and consumes `appendLog` for replication.
 *
 * Lifecycle: open (schema migrated) -> append / query from one thread -> close. better-sqlite3 is
 * synchronous, so every method runs to completion on the caller's thread; callers keep each call
 * short (group commit batches, chunked retention). Errors are thrown as exceptions; an `append`
 * that throws has committed nothing.
 */
import type { Accepted, Rejection, SeriesLabels } from '../core/records.ts'

export const AGGREGATES = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const
export type Aggregate = (typeof AGGREGATES)[number]

/** A read of one metric, optionally filtered by labels, over [from, to) epoch ms. */
export interface SeriesQuery {
  metric: string
  site?: string
  zone?: string
  device?: string
  sku?: string
  from: number
  to: number
  /** Bucket width in ms; omitted means raw points (then `agg` is ignored). */
  stepMs?: number
  agg: Aggregate
}

export interface SeriesData {
  labels: SeriesLabels & { metric: string }
  /** `[bucketStartOrTs, value]`, oldest first. */
  points: Array<[number, number]>
}

export interface SeriesResult {
  series: SeriesData[]
  /** Which table answered: 'raw', 'rollup_1m' or 'rollup_1h'. */
  source: 'raw' | 'rollup_1m' | 'rollup_1h'
}

/** What one group commit writes: accepted messages and refused ones, in one transaction. */
export interface IngestBatch {
  accepted: Accepted[]
  rejections: Rejection[]
}

export interface CommitStats {
  points: number
  events: number
  rejections: number
}

/** The series store: append-only raw points and events, rollups kept as data arrives, retention. */
export interface SeriesStore {
  /** Write one batch in one transaction; on return it is durable to the configured `synchronous` level. */
  append(batch: IngestBatch): CommitStats
  /** Read a metric, from the rollups whenever the step allows. */
  query(q: SeriesQuery): SeriesResult
  /** Count stored raw points matching the filter (all time when from/to are omitted). */
  countPoints(filter: Partial<Omit<SeriesQuery, 'stepMs' | 'agg'>>): number
  /** Make rollups include everything appended so far (reads of rollups by other connections need it). */
  flushRollups(): void
  /** The newest duplicate-detection keys, newest first, to rebuild the in-memory window at boot. */
  recentKeys(limit: number): Array<{ device: string; seq: number; ts: number }>
  /** Count event-log entries, optionally of one kind or device. */
  countEvents(filter?: { kind?: string; device?: string }): number
  /** Delete what retention says is expired; does at most `maxSteps` short transactions. Returns rows deleted. */
  enforceRetention(now: number, maxSteps?: number): number
  close(): void
}

export type DeviceKind = 'env' | 'scale' | 'scanner' | 'tracker' | 'rfid' | 'other'
export const DEVICE_KINDS: readonly DeviceKind[] = ['env', 'scale', 'scanner', 'tracker', 'rfid', 'other']

export interface Device {
  id: string
  kind: DeviceKind
  site: string
  zone: string
  username: string
  disabled: boolean
  createdAt: number
  lastSeen: number | null
  /** 'online' while connected; 'offline' after a will, a disconnect or a keep-alive timeout. */
  status: 'online' | 'offline' | 'never'
  battery: number | null
  firmware: string | null
}

/** Credentials, shown once at creation or rotation. */
export interface DeviceCredentials {
  id: string
  username: string
  password: string
}

export interface DeadLetter {
  id: number
  at: number
  code: string
  message: string
  device: string
  topic: string
  seq: number | null
  sample: string
}

export type Role = 'viewer' | 'hq' | 'admin'
export const ROLES: readonly Role[] = ['viewer', 'hq', 'admin']

/** The device registry (same SQLite file; usable by the CLI while the gateway runs). */
export interface DeviceRegistry {
  /** Create a device; the password is returned here once and only its scrypt hash is kept. */
  add(input: { id: string; kind: DeviceKind; site: string; zone: string }): Promise<DeviceCredentials>
  get(id: string): Device | null
  list(): Device[]
  /** Refuse future connections (and make the gateway drop a live one). */
  disable(id: string): void
  enable(id: string): void
  /** New password; the old one stops working at once. */
  rotate(id: string): Promise<DeviceCredentials>
  /** Check MQTT credentials: the device and its stored hash (to notice a later rotation), or why not. */
  verify(username: string, password: string): Promise<{ device: Device; secret: string } | { refused: 'unknown' | 'bad_password' | 'disabled' }>
  /** The stored password hash, compared by the broker to notice a rotation made by another process. */
  secretOf(id: string): string | null
  /** Changes with every disable, enable and rotate, from any process. */
  version(): number
  /** Called after a disable or rotate made through this instance. */
  onRevoked(fn: (id: string) => void): void
  setStatus(id: string, status: 'online' | 'offline'): void
  setHealth(id: string, battery: number | null, firmware: string | null): void
  /** At boot nobody is connected. */
  markAllOffline(): void
}

/** HTTP bearer tokens with roles; only a hash of each token is stored. */
export interface TokenStore {
  add(role: Role, name?: string): { id: string; token: string; role: Role }
  verify(token: string): { id: string; role: Role } | null
  list(): Array<{ id: string; role: Role; name: string; createdAt: number }>
  revoke(id: string): boolean
}

/** The bounded dead-letter table of refused messages. */
export interface DeadLetterLog {
  list(opts: { limit: number; code?: string; device?: string; beforeId?: number }): DeadLetter[]
  count(): number
}
