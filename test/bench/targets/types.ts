/** What every broker under test looks like to the scenarios: a port, devices to connect as, a pid, a stop. */
import type { DeviceIdentity } from '../../../simulators/loadgen/types.ts'

export type TargetName = 'aedes' | 'mosquitto' | 'gateway'

export interface Target {
  name: TargetName
  /** Human label with the version, for the report. */
  label: string
  port: number
  /** The broker process itself, for /proc RSS and CPU. */
  pid: number
  site: string
  devices: DeviceIdentity[]
  /** The HTTP API and a viewer token (the gateway only): for /metrics and the HTTP scenario. */
  http?: { port: number; token: string | null }
  /** Broker-side counters (e.g. accepted / rejected), when the target exposes them. */
  counters(): Promise<Record<string, number> | null>
  /** Stop the broker (SIGTERM, bounded) and remove what it left behind. */
  stop(): Promise<void>
}

/** A target that started, or why it did not (reported, never fatal to the bench). */
export type Started = { ok: true; target: Target } | { ok: false; reason: string }

/** Anonymous-broker devices: connection i is `bench-dev-i`. */
export function anonymousDevices(n: number): DeviceIdentity[] {
  return Array.from({ length: n }, (_, i) => ({ id: `bench-dev-${i}`, username: `bench-dev-${i}`, password: 'x' }))
}
