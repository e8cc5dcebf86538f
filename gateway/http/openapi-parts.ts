/** Building blocks of the hand-written OpenAPI document (`openapi.ts`), shared by its parts. */

/** The operations of one path, by lowercase method. */
export type PathItem = Partial<Record<'get' | 'post' | 'put' | 'delete', Record<string, unknown>>>

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
/** Error responses by status, e.g. `errors(400, 401)`; each refers to `components.responses.E<status>`. */
export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/E${s}` }]))
export const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } })
export const query = (name: string, description: string, schema: object = { type: 'string' }, required = false) => ({
  name,
  in: 'query',
  required,
  description,
  schema,
})
export const pathParam = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'path', required: true, description, schema })
/** A required JSON request body. */
export const jsonBody = (schema: object, description: string) => ({ required: true, description, content: { 'application/json': { schema } } })
/** An object schema whose every listed property is required. */
export const object = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({ type: 'object', properties, required })

export const bearer = [{ bearer: [] }]
export const PUBLIC: never[] = []

export const instant = { type: 'string', description: 'Epoch milliseconds or ISO 8601 with a zone', examples: ['1714564800000', '2024-05-01T12:00:00Z'] }
export const epochMs = (description = 'Epoch ms') => ({ type: 'integer', description })
export const nullableEpochMs = (description = 'Epoch ms') => ({ type: ['integer', 'null'], description })
