/**
 * Bearer-token authorization. Roles are ordered viewer < hq < admin: a route open to a role is
 * open to every role above it. Missing or unknown tokens are 401, a role too low is 403. On a route
 * that needs a token, the caller (`Principal`) is put on the context, so changes record who made them.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import { StockyardError } from '../core/errors.ts'
import type { Role, TokenStore } from '../store/types.ts'
import type { Access } from './route.ts'

const RANK: Record<Role, number> = { viewer: 1, hq: 2, admin: 3 }

/** Who called: the token's id and role, and the name it was created with ('' when none). */
export interface Principal {
  id: string
  role: Role
  name: string
}

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal
  }
}

/** What authorization needs of the token store; `list` (optional) supplies token names. */
export type TokenVerifier = Pick<TokenStore, 'verify'> & Partial<Pick<TokenStore, 'list'>>

/** True when a token of role `role` may call a route with access `access`. */
export function allows(access: Access, role: Role | null): boolean {
  if (access === 'public') return true
  return role !== null && RANK[role] >= RANK[access]
}

/** The token of an `Authorization: Bearer <token>` header, or null when absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  const m = header?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i)
  return m ? m[1]! : null
}

/** The dashboards' session cookie: the token itself, HttpOnly and SameSite=Strict (see session.ts). */
export const SESSION_COOKIE = 'stockyard_session'
/** A change made with the session cookie (not a bearer token) must carry this header: a cross-site form cannot set it. */
export const CSRF_HEADER = 'x-stockyard-csrf'

/** What authentication reads of a request: its method, and a header or cookie by name. */
export interface Credentials {
  method: string
  header(name: string): string | undefined
  cookie(name: string): string | undefined
}

/**
 * The caller of a request to a route with access `access`, or null for a public route; throws
 * `auth.required` (401) or `auth.forbidden` (403). The token comes from `Authorization: Bearer`, or
 * else from the dashboards' session cookie; with the cookie, anything but GET also needs a header a
 * cross-site form cannot set: the CSRF header, or one of `csrfHeaders` (Node-RED's editor sends its own).
 */
export function authenticate(access: Access, tokens: TokenVerifier, req: Credentials, csrfHeaders: readonly string[] = []): Principal | null {
  if (access === 'public') return null
  let token = bearerToken(req.header('authorization'))
  if (token === null) {
    token = req.cookie(SESSION_COOKIE) ?? null
    if (token !== null && req.method !== 'GET' && req.method !== 'HEAD' && req.header(CSRF_HEADER) !== '1' && !csrfHeaders.some((h) => req.header(h))) {
      throw new StockyardError('auth.forbidden', `a change made with the session cookie needs the header ${CSRF_HEADER}: 1`)
    }
  }
  if (token === null) throw new StockyardError('auth.required', 'send a bearer token: Authorization: Bearer <token>')
  const verified = tokens.verify(token)
  if (verified === null) throw new StockyardError('auth.required', 'the bearer token is not valid (unknown or revoked)', { invalidToken: true })
  if (!allows(access, verified.role)) {
    throw new StockyardError('auth.forbidden', `this route needs role ${access} or above; the token has role ${verified.role}`)
  }
  const name = tokens.list?.().find((t) => t.id === verified.id)?.name ?? ''
  return { id: verified.id, role: verified.role, name }
}

/** Middleware enforcing `access` on one route (see `authenticate`); sets `principal` on the context of a route that needs a token. */
export function authorize(access: Access, tokens: TokenVerifier, csrfHeaders: readonly string[] = []): MiddlewareHandler {
  return async (c, next) => {
    const principal = authenticate(access, tokens, { method: c.req.method, header: (n) => c.req.header(n), cookie: (n) => getCookie(c, n) }, csrfHeaders)
    if (principal) c.set('principal', principal)
    await next()
  }
}

/**
 * The caller of a route that needs a token, as recorded with a change: the token's name, or its id
 * when it has none.
 */
export function actor(c: Context): string {
  const p = c.get('principal') as Principal | undefined
  if (!p) throw new StockyardError('internal', 'no principal on a route that records who called it; is its access public?')
  return p.name || p.id
}
