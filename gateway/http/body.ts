/**
 * Request bodies: read with a size cap (a larger body is a 413 before it is all buffered), decoded as
 * UTF-8, and for JSON routes parsed and validated with a zod schema into a 400 that names each field.
 */
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { z } from 'zod'
import { StockyardError } from '../core/errors.ts'
import { validate } from './params.ts'

/** Cap of a JSON body (silences, SKU edits): far above any valid one. */
export const MAX_JSON_BYTES = 64 * 1024
/** Cap of a rule pack sent to `PUT /api/v1/rules/{file}`. */
export const MAX_RULE_PACK_BYTES = 1024 * 1024

const size = (bytes: number): string => (bytes % 1024 === 0 ? (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`) : `${bytes} bytes`)

function tooLarge(maxBytes: number): HTTPException {
  return new HTTPException(413, { message: `body: larger than ${size(maxBytes)}; nothing was changed` })
}

/** The body as text, at most `maxBytes` (413 beyond); '' when there is none. */
export async function readText(c: Context, maxBytes: number): Promise<string> {
  const declared = Number(c.req.header('content-length') ?? '0')
  if (declared > maxBytes) throw tooLarge(maxBytes)
  const stream = c.req.raw.body
  if (!stream) return ''
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel()
      throw tooLarge(maxBytes)
    }
    chunks.push(value)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Buffer.concat(chunks))
  } catch {
    throw new StockyardError('request.invalid', 'body: not valid UTF-8')
  }
}

/** The JSON body of `c`, not yet validated: 413 above `maxBytes`, 400 for no body or bad JSON. */
export async function readJson(c: Context, maxBytes = MAX_JSON_BYTES): Promise<unknown> {
  const text = await readText(c, maxBytes)
  if (text.trim() === '') throw new StockyardError('request.invalid', 'body: missing; send a JSON object with Content-Type: application/json')
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new StockyardError('request.invalid', `body: not valid JSON: ${(err as Error).message}`)
  }
}

/**
 * The JSON body of `c` validated with `schema`: as `readJson`, and 400 for a bad field (each named,
 * also in `details.errors`).
 * @example const input = await parseJsonBody(c, SilenceInputSchema)
 */
export async function parseJsonBody<T extends z.ZodType>(c: Context, schema: T, maxBytes = MAX_JSON_BYTES): Promise<z.output<T>> {
  return validate(schema, await readJson(c, maxBytes), 'body')
}
