/**
 * The decode pipeline: raw MQTT payload -> `Accepted` records, or one `Rejection`. Checks run in a
 * fixed order, cheapest first, and the first failure decides the code: size, UTF-8 and JSON, depth,
 * kind, version, schema, timestamps. Never throws; a bad message is a value, not an exception.
 */
import { isUtf8 } from 'node:buffer'
import type { Accepted, Rejection, RejectionCode } from '../core/records.ts'
import type { DecodeContext, Decoded } from './contract.ts'
import { depthExceededAt } from './depth.ts'
import { SUPPORTED_VERSIONS } from './fields.ts'
import { describeValue, formatIssues, PARSE_OPTIONS } from './issues.ts'
import { CONTRACTS, MESSAGE_KINDS } from './registry.ts'

const SAMPLE_BYTES = 1024

/** What a rejection keeps of its payload: the first 1 KiB, as text (invalid UTF-8 replaced). */
export function sampleOf(payload: Buffer): string {
  return payload.subarray(0, SAMPLE_BYTES).toString('utf8')
}

/** The first readable `seq` of a parsed payload (top level, or the first reading of a batch). */
function seqOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  let seq = (value as { seq?: unknown }).seq
  const readings = (value as { readings?: unknown }).readings
  if (seq === undefined && Array.isArray(readings) && typeof readings[0] === 'object' && readings[0] !== null) {
    seq = (readings[0] as { seq?: unknown }).seq
  }
  return Number.isSafeInteger(seq) ? (seq as number) : undefined
}

function reject(ctx: DecodeContext, code: RejectionCode, message: string, value?: unknown): Decoded {
  const rejection: Rejection = {
    code,
    message,
    device: ctx.deviceId,
    site: ctx.site,
    topic: ctx.topic,
    sample: sampleOf(ctx.payload),
    ts: ctx.now,
  }
  const seq = seqOf(value)
  if (seq !== undefined) rejection.seq = seq
  return { ok: false, rejection }
}

function parse(ctx: DecodeContext): { ok: true; value: unknown } | { ok: false; decoded: Decoded } {
  const { payload } = ctx
  if (payload.length === 0) return { ok: false, decoded: reject(ctx, 'payload.not_json', 'payload is empty; expected a JSON object') }
  if (!isUtf8(payload)) {
    return { ok: false, decoded: reject(ctx, 'payload.not_json', 'payload is not valid UTF-8; send JSON text encoded as UTF-8') }
  }
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) }
  } catch (err) {
    // V8's JSON.parse is iterative today; a RangeError would mean an engine that recurses ran out of stack.
    if (err instanceof RangeError) {
      return {
        ok: false,
        decoded: reject(ctx, 'payload.too_deep', `payload nests too deeply to parse; the limit is ${ctx.limits.maxDepth} levels (ingest.maxDepth)`),
      }
    }
    return { ok: false, decoded: reject(ctx, 'payload.not_json', `payload is not valid JSON: ${(err as Error).message}`) }
  }
}

/**
 * Decodes one device message of `kind` (the last topic level) into records, or a rejection whose
 * message names the offending field and what it should be.
 * @example
 * const d = decodeMessage('reading', { deviceId: 'scale-07', site: 'dc-east', zone: 'cold', topic, payload, now: clock.now(), limits })
 * if (d.ok) store.append(d.accepted); else deadLetter(d.rejection)
 */
export function decodeMessage(kind: string, ctx: DecodeContext): Decoded {
  const { payload, limits } = ctx
  if (payload.length > limits.maxPayloadBytes) {
    return reject(
      ctx,
      'payload.too_large',
      `payload is ${payload.length} bytes; the limit is ${limits.maxPayloadBytes} bytes (mqtt.maxPayloadBytes); send smaller batches`,
    )
  }
  const parsed = parse(ctx)
  if (!parsed.ok) return parsed.decoded
  const value = parsed.value

  const at = depthExceededAt(payload, limits.maxDepth)
  if (at !== -1) {
    return reject(ctx, 'payload.too_deep', `payload nests deeper than ${limits.maxDepth} levels (ingest.maxDepth) at byte ${at}`, value)
  }

  const contract = CONTRACTS.get(kind)
  if (contract === undefined) {
    return reject(ctx, 'payload.unknown_kind', `unknown message kind "${kind.slice(0, 64)}" (last topic level); kinds are ${MESSAGE_KINDS.join(', ')}`, value)
  }

  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return reject(ctx, 'payload.invalid', `expected a JSON object at the top level, got ${describeValue(value)}`)
  }
  const v = (value as { v?: unknown }).v
  if (typeof v === 'number' && v !== 1) {
    return reject(ctx, 'payload.unsupported_version', `v: version ${v} is not supported; supported versions: ${SUPPORTED_VERSIONS.join(', ')}`, value)
  }

  const schema = contract.schemaFor ? contract.schemaFor(value as Record<string, unknown>) : contract.schema
  const result = schema.safeParse(value, PARSE_OPTIONS)
  if (!result.success) return reject(ctx, 'payload.invalid', formatIssues(result.error.issues), value)

  const accepted: Accepted = { device: ctx.deviceId, site: ctx.site, kind, points: [], events: [], keys: [] }
  const refused = contract.collect(result.data, ctx, accepted)
  if (refused) return reject(ctx, refused.code, refused.message, value)
  return { ok: true, accepted }
}
