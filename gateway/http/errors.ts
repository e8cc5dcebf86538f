/**
 * The one mapping from thrown errors to HTTP responses. Every error body has the shape
 * `{"error":{"code","message"}}`, plus `details.errors` (one problem per line) when the error lists
 * them, e.g. every mistake of a refused rule pack. Unexpected errors are logged and answered with a
 * generic 500.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { StockyardError, type ErrorCode } from '../core/errors.ts'
import type { HttpDeps } from './deps.ts'

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: { errors: string[] } }
}

/** The `errors` list of an error's details, when it has one; nothing else of the details is sent. */
function listedErrors(details: unknown): string[] | undefined {
  const errors = (details as { errors?: unknown } | null | undefined)?.errors
  return Array.isArray(errors) && errors.every((e) => typeof e === 'string') ? errors : undefined
}

function errorResponse(c: Context, status: number, code: ErrorCode, message: string, opts: { invalidToken?: boolean; errors?: string[] } = {}): Response {
  // RFC 6750 §3: a 401 for a bearer-protected resource carries a WWW-Authenticate challenge.
  if (status === 401) c.header('WWW-Authenticate', opts.invalidToken ? 'Bearer realm="stockyard", error="invalid_token"' : 'Bearer realm="stockyard"')
  // A body over its cap is left unread (or cut off): the connection cannot carry another request.
  if (status === 413) c.header('Connection', 'close')
  const body: ErrorBody = { error: { code, message, ...(opts.errors && { details: { errors: opts.errors } }) } }
  return c.json(body, status as ContentfulStatusCode)
}

// 413 (a body over its cap) has no code of its own: it is an invalid request, told apart by the status.
const CODE_BY_STATUS: Record<number, ErrorCode> = { 400: 'request.invalid', 401: 'auth.required', 403: 'auth.forbidden', 404: 'not_found', 409: 'conflict' }

function logError(log: HttpDeps['log'], c: Context, err: unknown, msg: string): void {
  if (log) log.error({ err, method: c.req.method, path: c.req.path }, msg)
  else console.error(msg, c.req.method, c.req.path, err)
}

/** `app.onError`: StockyardError -> its status and code; anything else -> 500 internal. */
export function onError(log: HttpDeps['log']): ErrorHandler {
  return (err, c) => {
    if (err instanceof StockyardError) {
      if (err.status >= 500) logError(log, c, err, 'http: request failed')
      const invalidToken = (err.details as { invalidToken?: boolean } | undefined)?.invalidToken === true
      return errorResponse(c, err.status, err.code, err.message, { invalidToken, errors: listedErrors(err.details) })
    }
    if (err instanceof HTTPException && err.status < 500) {
      return errorResponse(c, err.status, CODE_BY_STATUS[err.status] ?? 'request.invalid', err.message || 'bad request')
    }
    logError(log, c, err, 'http: unexpected error')
    return errorResponse(c, 500, 'internal', 'internal error; the gateway log has the details')
  }
}

/** `app.notFound`: unknown paths (and methods other than those registered) in the same JSON shape. */
export const notFound: NotFoundHandler = (c) => errorResponse(c, 404, 'not_found', `no route ${c.req.method} ${c.req.path}; see /openapi.json`)
