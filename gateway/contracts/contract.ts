/**
 * The shape every message kind implements. A kind is one file (`reading.ts`, `scan.ts`, ...) that
 * exports a `MessageContract` and one line in `registry.ts`; the decode pipeline (`decode.ts`) does
 * the checks common to all kinds (size, JSON, depth, version) and calls the contract for the rest.
 */
import type { z } from 'zod'
import type { Accepted, Rejection, RejectionCode } from '../core/records.ts'

/** The kinds of the `stockyard/v1/{site}/{deviceId}/{kind}` topic. */
export type MessageKind = 'reading' | 'scan' | 'shipment' | 'status'

/** Everything decoding needs besides the kind: who sent the message, on which topic, when, and the limits. */
export interface DecodeContext {
  deviceId: string
  site: string
  /** The device's zone, from its registration; becomes the `zone` label. */
  zone: string
  topic: string
  payload: Buffer
  /** Arrival time (epoch ms): the reference for the timestamp window and the default `ts` of a status. */
  now: number
  limits: { maxPayloadBytes: number; maxDepth: number; maxFutureSkewMs: number; maxPastAgeMs: number }
}

/** The outcome of decoding one message: records to store, or one rejection to count and dead-letter. */
export type Decoded = { ok: true; accepted: Accepted } | { ok: false; rejection: Rejection }

/** Why a contract refused a payload it had validated (a timestamp outside the window, say). */
export interface Refusal {
  code: RejectionCode
  message: string
}

/**
 * One message kind. `collect` is pure and synchronous, never throws, and only appends to `out`;
 * a returned `Refusal` discards everything appended for that message.
 */
export interface MessageContract<T> {
  readonly kind: MessageKind
  /** The payload schema as published to integrators; `jsonSchemas()` is generated from it. */
  readonly schema: z.ZodType<T>
  /** Valid payloads, published in the JSON Schema and decoded by the tests. */
  readonly examples: readonly T[]
  /** Picks the schema for a kind with several forms, so issues are reported against the form the device meant. */
  schemaFor?(payload: Record<string, unknown>): z.ZodType<T>
  /** Appends the records of a validated payload to `out`, or refuses it. */
  collect(payload: T, ctx: DecodeContext, out: Accepted): Refusal | undefined
}
