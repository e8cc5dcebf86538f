/**
 * Login for the dashboards: `POST /api/v1/session {"token"}` checks a token and answers with a
 * session cookie holding it (HttpOnly, so page scripts never see it; SameSite=Strict, so other sites'
 * pages cannot use it; not Secure, as the gateway serves plain HTTP on the warehouse LAN). Every route
 * then accepts the cookie as it accepts a bearer token, with the token's role; changes made with the
 * cookie also need the `x-stockyard-csrf: 1` header. `DELETE` logs out.
 */
import { deleteCookie, setCookie } from 'hono/cookie'
import { z } from 'zod'
import { StockyardError } from '../core/errors.ts'
import { SESSION_COOKIE, type Principal } from './auth.ts'
import { readJson } from './body.ts'
import { parseQuery, validate } from './params.ts'
import type { Route } from './route.ts'

/** A session lasts a shift and a half. */
export const SESSION_MAX_AGE_S = 12 * 3600

const LoginSchema = z.strictObject({ token: z.string().min(1).max(256) })

export const sessionRoutes: Route[] = [
  {
    method: 'POST',
    path: '/api/v1/session',
    access: 'public',
    handle: async (c, deps) => {
      const body = await readJson(c)
      const { token } = validate(LoginSchema, body, 'body')
      const verified = deps.tokens.verify(token)
      if (verified === null) throw new StockyardError('auth.required', 'the token is not valid (unknown or revoked)', { invalidToken: true })
      setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: SESSION_MAX_AGE_S })
      const name = deps.tokens.list?.().find((t) => t.id === verified.id)?.name ?? ''
      return c.json({ role: verified.role, name })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/session',
    access: 'viewer',
    handle: (c) => {
      parseQuery(c, z.strictObject({}))
      const p = c.get('principal') as Principal
      return c.json({ role: p.role, name: p.name })
    },
  },
  {
    method: 'DELETE',
    path: '/api/v1/session',
    access: 'public',
    handle: (c) => {
      deleteCookie(c, SESSION_COOKIE, { path: '/' })
      return c.json({ ok: true })
    },
  },
]
