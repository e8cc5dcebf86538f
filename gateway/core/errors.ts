/**
 * Typed errors with a stable `code`. Every layer throws these; the HTTP layer maps them to a
 * status in one place (`gateway/http/errors.ts`) and the CLI prints `code: message`.
 */
export type ErrorCode =
  | 'config.invalid'
  | 'request.invalid'
  | 'auth.required'
  | 'auth.forbidden'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'store.failed'
  | 'sink.unavailable'
  | 'nodered.unavailable'
  | 'internal'

const STATUS: Record<ErrorCode, number> = {
  'config.invalid': 400,
  'request.invalid': 400,
  'auth.required': 401,
  'auth.forbidden': 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  'store.failed': 503,
  'sink.unavailable': 503,
  'nodered.unavailable': 503,
  internal: 500,
}

/** An error that says what went wrong and carries the HTTP status it maps to. */
export class StockyardError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: unknown

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message)
    this.name = 'StockyardError'
    this.code = code
    this.status = STATUS[code]
    this.details = details
  }
}
