/**
 * Silences: alerts whose labels match every matcher (globs; `rule` matches the rule id) send no
 * notifications from `startsAt` until `endsAt`; they still change state and show in the API. Listing
 * reads the reader connection; creating and expiring go through the rule runtime.
 */
import { z } from 'zod'
import { readSilences } from '../alerts/store.ts'
import { describeValue } from '../contracts/issues.ts'
import { systemClock } from '../core/clock.ts'
import { MAX_DURATION_MS, positiveDuration } from '../rules/duration.ts'
import { afterFields, name } from '../rules/fields.ts'
import { glob } from '../rules/glob.ts'
import { hasTable } from '../state/sql.ts'
import { actor } from './auth.ts'
import { parseJsonBody } from './body.ts'
import { warehouseOf } from './deps.ts'
import { invalid, parseInstant, parseParams, parseQuery } from './params.ts'
import type { Route } from './route.ts'

/** Epoch milliseconds (a number) or ISO 8601 text with a zone. */
const bodyInstant = z.unknown().transform((v, ctx) => {
  const t = typeof v === 'number' ? (Number.isSafeInteger(v) && v >= 0 ? v : null) : typeof v === 'string' ? parseInstant(v) : null
  if (t === null) {
    ctx.addIssue({ code: 'custom', message: `expected epoch milliseconds or ISO 8601 with a zone, e.g. "2025-01-31T12:00:00Z", got ${describeValue(v)}` })
    return z.NEVER
  }
  return t
})

export const SilenceInputSchema = z
  .strictObject({
    matchers: z
      .record(name('label name'), glob)
      .refine((m) => Object.keys(m).length > 0, 'name at least one label, e.g. {"rule": "cold-room-warm"}; rule matches the rule id')
      .refine((m) => Object.keys(m).length <= 32, 'at most 32 matchers'),
    startsAt: bodyInstant.optional(),
    endsAt: bodyInstant.optional(),
    /** From `startsAt` (or now): `2h`, `1d12h`. */
    duration: positiveDuration.optional(),
    comment: z.string().max(1024).optional(),
  })
  .superRefine(
    (s, ctx) => {
      if ((s.endsAt === undefined) === (s.duration === undefined)) {
        const message = s.endsAt === undefined ? 'missing; give endsAt or duration (e.g. "2h")' : 'give endsAt or duration, not both'
        ctx.addIssue({ code: 'custom', path: ['endsAt'], message })
      }
    },
    afterFields('endsAt', 'duration'),
  )

const SilenceParams = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'expected a silence id: 16 lowercase hex digits') })

export const silenceRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/silences',
    access: 'viewer',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      const { db } = warehouseOf(deps)
      const now = (deps.clock ?? systemClock).now()
      return c.json({ silences: hasTable(db, 'silences') ? readSilences(db, now) : [] })
    },
  },
  {
    method: 'POST',
    path: '/api/v1/silences',
    access: 'admin',
    handle: async (c, deps) => {
      const input = await parseJsonBody(c, SilenceInputSchema)
      const now = (deps.clock ?? systemClock).now()
      const startsAt = input.startsAt ?? now
      const endsAt = input.endsAt ?? startsAt + input.duration!
      const problems: string[] = []
      if (endsAt <= Math.max(now, startsAt)) problems.push(`endsAt: must be after ${input.startsAt === undefined ? 'now' : 'startsAt and now'}`)
      if (endsAt - now > MAX_DURATION_MS) problems.push('endsAt: at most 366 days from now')
      if (problems.length) throw invalid(problems)
      const silence = await warehouseOf(deps).runtime.call('silence', {
        matchers: input.matchers,
        startsAt,
        endsAt,
        createdBy: actor(c),
        ...(input.comment !== undefined && { comment: input.comment }),
      })
      return c.json({ silence }, 201)
    },
  },
  {
    method: 'DELETE',
    path: '/api/v1/silences/{id}',
    access: 'admin',
    handle: async (c, deps) => {
      const { id } = parseParams(c, SilenceParams)
      // Ends it now (an ended silence stays ended); 404 for an unknown id.
      const silence = await warehouseOf(deps).runtime.call('expireSilence', { id })
      return c.json({ silence })
    },
  },
]
