/**
 * One route of the API as data. `access` is a required field, so every new route states who may
 * call it right where it is declared: 'public' (no token) or the lowest role allowed.
 */
import type { Context } from 'hono'
import type { Role } from '../store/types.ts'
import type { HttpDeps } from './deps.ts'

export type Access = 'public' | Role

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface Route {
  method: Method
  /**
   * Path in OpenAPI form, path parameters in braces (`/api/v1/alerts/{id}`); also the key of the route
   * in the OpenAPI document. `createHttpApp` mounts it in hono form (`/api/v1/alerts/:id`).
   */
  path: string
  access: Access
  handle(c: Context, deps: HttpDeps): Response | Promise<Response>
}

/** `/api/v1/alerts/{id}/ack` -> `/api/v1/alerts/:id/ack`. */
export function honoPath(path: string): string {
  return path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ':$1')
}
