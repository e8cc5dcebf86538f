/**
 * One route of the API as data. `access` is a required field, so every new route states who may
 * call it right where it is declared: 'public' (no token) or the lowest role allowed.
 */
import type { Context } from 'hono'
import type { Role } from '../store/types.ts'
import type { HttpDeps } from './deps.ts'

export type Access = 'public' | Role

export interface Route {
  method: 'GET'
  /** Hono path; also the key of the route in the OpenAPI document. */
  path: string
  access: Access
  handle(c: Context, deps: HttpDeps): Response | Promise<Response>
}
