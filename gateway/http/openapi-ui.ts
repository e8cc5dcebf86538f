/** The OpenAPI description of the dashboards' routes (session, definitions, live feed), merged into the document by `openapi.ts`. */
import { bearer, errors, json, jsonBody, object, PUBLIC, type PathItem } from './openapi-parts.ts'

const item = (ops: PathItem): PathItem => ops
const viewer = { security: bearer, 'x-stockyard-access': 'viewer' }
const open = { type: 'object', description: 'See gateway/dashboards/schema.ts and the README, "Dashboards"' }
const who = object({ role: { type: 'string', enum: ['viewer', 'hq', 'admin'] }, name: { type: 'string' } })

export const uiPaths = {
  '/api/v1/session': item({
    post: {
      operationId: 'login',
      summary: 'Log in to the dashboards: answers with an HttpOnly, SameSite=Strict session cookie holding the token',
      security: PUBLIC,
      'x-stockyard-access': 'public',
      requestBody: jsonBody(object({ token: { type: 'string', minLength: 1, maxLength: 256 } }), 'A token from `stockyard tokens add`'),
      responses: { '200': json(who, 'Logged in; Set-Cookie stockyard_session'), ...errors(400, 401, 413, 500) },
    },
    get: {
      operationId: 'whoAmI',
      summary: 'The role and name of the session (or bearer token)',
      ...viewer,
      responses: { '200': json(who, 'Who'), ...errors(400, 401, 500) },
    },
    delete: {
      operationId: 'logout',
      summary: 'Log out: clears the session cookie',
      security: PUBLIC,
      'x-stockyard-access': 'public',
      responses: { '200': json(object({ ok: { type: 'boolean' } }), 'Logged out'), ...errors(500) },
    },
  }),
  '/api/v1/dashboards': item({
    get: {
      operationId: 'listDashboards',
      summary: 'The dashboard definitions (read again on each request); `errors` lists the problems of files that no longer validate',
      ...viewer,
      responses: {
        '200': json(
          object({ site: { type: 'string' }, dashboards: { type: 'array', items: open }, errors: { type: 'array', items: { type: 'string' } } }),
          'Definitions',
        ),
        ...errors(400, 401, 403, 500, 503),
      },
    },
  }),
  '/api/v1/live': item({
    get: {
      operationId: 'live',
      summary: 'Server-sent events: `alert` (every alert change as it commits), `data` (committed messages by kind, at most 4 per second), `ping`',
      ...viewer,
      responses: {
        '200': { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errors(400, 401, 403, 503),
      },
    },
  }),
}
