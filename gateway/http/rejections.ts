/**
 * The dead-letter log: refused messages, newest first. Page with `before=<id of the last row>`;
 * `total` is the number of rows the log holds (it is bounded by `ingest.deadLetterMax`).
 */
import { z } from 'zod'
import { integer, label, parseQuery } from './params.ts'
import type { Route } from './route.ts'

export const RejectionsQuerySchema = z.strictObject({
  limit: integer(1, 1000).default(100),
  code: label.optional(),
  device: label.optional(),
  /** Only rows with an id below this one (the cursor for the next page). */
  before: integer(1, Number.MAX_SAFE_INTEGER).optional(),
})

export const rejectionRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/rejections',
    access: 'viewer',
    handle: (c, deps) => {
      const q = parseQuery(c, RejectionsQuerySchema)
      const rejections = deps.deadLetters.list({
        limit: q.limit,
        ...(q.code !== undefined && { code: q.code }),
        ...(q.device !== undefined && { device: q.device }),
        ...(q.before !== undefined && { beforeId: q.before }),
      })
      return c.json({ rejections, total: deps.deadLetters.count() })
    },
  },
]
