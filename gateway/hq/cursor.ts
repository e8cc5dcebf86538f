/**
 * HQ cursors: opaque to HQ, tamper-evident, and bound to one site, one store and one stream. A cursor
 * is `c1.<payload>.<mac>`: the payload is base64url JSON `{site, store, stream, seq}` (seq: the last
 * row HQ has, in the stream's order) and the mac an HMAC-SHA256 of it under a key kept in the store,
 * so a cursor survives a restart but is worthless against another site's or a rebuilt store.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { StockyardError } from '../core/errors.ts'

export const HQ_STREAMS = ['rollups/1m', 'rollups/1h', 'rollups/1d', 'events', 'alerts'] as const
export type HqStream = (typeof HQ_STREAMS)[number]

const Body = z.strictObject({
  site: z.string(),
  store: z.string(),
  stream: z.enum(HQ_STREAMS),
  seq: z.number().int().min(0),
})
export type CursorBody = z.infer<typeof Body>

const mac = (payload: string, key: string): Buffer => createHmac('sha256', key).update(payload).digest().subarray(0, 16)

export function encodeCursor(body: CursorBody, key: string): string {
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url')
  return `c1.${payload}.${mac(payload, key).toString('base64url')}`
}

/**
 * The cursor's position in `want.stream`, or 0 for no cursor. A malformed or altered cursor, one of
 * another site, store or stream is a 400 that says which.
 */
export function decodeCursor(text: string | undefined, key: string, want: { site: string; store: string; stream: HqStream }): number {
  if (text === undefined || text === '') return 0
  const bad = (why: string): StockyardError => new StockyardError('request.invalid', `cursor: ${why}`, { errors: [`cursor: ${why}`] })
  const parts = text.split('.')
  if (parts.length !== 3 || parts[0] !== 'c1' || !parts[1] || !parts[2]) throw bad('not a cursor of this API (c1.<payload>.<mac>)')
  let body: CursorBody
  try {
    body = Body.parse(JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')))
  } catch {
    throw bad('not a cursor of this API (unreadable payload)')
  }
  // Named before the mac is checked (another site's key signed it), so HQ learns what it mixed up.
  if (body.site !== want.site) throw bad(`it belongs to site ${JSON.stringify(body.site)}, this gateway is site ${JSON.stringify(want.site)}`)
  const given = Buffer.from(parts[2], 'base64url')
  const expected = mac(parts[1], key)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad('it was altered, or it is from another store of this site')
  if (body.store !== want.store) throw bad('it is from another store of this site')
  if (body.stream !== want.stream) throw bad(`it is a cursor of ${body.stream}, not of ${want.stream}`)
  return body.seq
}
