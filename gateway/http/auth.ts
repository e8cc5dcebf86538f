/**
 * Bearer-token authorization. Roles are ordered viewer < hq < admin: a route open to a role is
 * open to every role above it. Missing or unknown tokens are 401, a role too low is 403.
 */
import type { MiddlewareHandler } from 'hono'
import { StockyardError } from '../core/errors.ts'
import type { Role, TokenStore } from '../store/types.ts'
import type { Access } from './route.ts'

const RANK: Record<Role, number> = { viewer: 1, hq: 2, admin: 3 }

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

/** Middleware enforcing `access` on one route. */
export function authorize(access: Access, tokens: Pick<TokenStore, 'verify'>): MiddlewareHandler {
  return async (c, next) => {
    if (access !== 'public') {
      const token = bearerToken(c.req.header('authorization'))
      if (token === null) throw new StockyardError('auth.required', 'send a bearer token: Authorization: Bearer <token>')
      const principal = tokens.verify(token)
      if (principal === null) throw new StockyardError('auth.required', 'the bearer token is not valid (unknown or revoked)', { invalidToken: true })
      if (!allows(access, principal.role)) {
        throw new StockyardError('auth.forbidden', `this route needs role ${access} or above; the token has role ${principal.role}`)
      }
    }
    await next()
  }
}
