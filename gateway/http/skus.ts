/**
 * The SKU master: every SKU's inventory policy, and edits to one SKU. An edit is a partial policy
 * merged over the stored one and validated as a whole by the rule runtime (a new SKU needs every
 * required field); it is stored with source `api`, wins over the file and survives restarts.
 */
import { z } from 'zod'
import { formatPath } from '../contracts/issues.ts'
import { StockyardError } from '../core/errors.ts'
import { readSkus, skuEntrySchema } from '../state/skus.ts'
import { readJson } from './body.ts'
import { warehouseOf } from './deps.ts'
import { invalid, parseParams, parseQuery, validate } from './params.ts'
import type { Route } from './route.ts'

const fields = skuEntrySchema.in.shape

/**
 * A partial policy: each field present is checked on its own here; the merged policy is checked
 * (safety_stock at most reorder_point, required fields of a new SKU) by the runtime.
 */
export const SkuPatchSchema = z.strictObject(
  Object.fromEntries(Object.entries(fields).map(([k, s]) => [k, s.optional()])) as { [K in keyof typeof fields]: z.ZodOptional<(typeof fields)[K]> },
)

const SkuParams = z.object({ sku: fields.sku })

/** The runtime's refusal names fields in zod issues; list them as `field: problem` lines. */
function withFieldList(err: unknown): unknown {
  if (!(err instanceof StockyardError) || err.code !== 'request.invalid' || !Array.isArray(err.details)) return err
  const issues = err.details as Array<{ path?: PropertyKey[]; message?: string }>
  return invalid(issues.map((i) => `${formatPath(i.path ?? []) || 'body'}: ${i.message ?? 'invalid'}`))
}

export const skuRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/skus',
    access: 'viewer',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      return c.json({ skus: readSkus(warehouseOf(deps).db) })
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/skus/{sku}',
    access: 'admin',
    handle: async (c, deps) => {
      const { sku } = parseParams(c, SkuParams)
      const body = await readJson(c)
      validate(SkuPatchSchema, body, 'body')
      // Sent on as written (durations as text, no defaults filled in): the runtime merges it over the stored policy.
      const patch = body as Record<string, unknown>
      if (Object.keys(patch).length === 0) throw invalid(['body: send at least one field of the policy, e.g. {"reorder_point": 40}'])
      if (patch.sku !== undefined && patch.sku !== sku)
        throw invalid([`sku: ${JSON.stringify(patch.sku)} differs from the SKU in the path (${sku}); leave sku out`])
      try {
        const policy = await warehouseOf(deps).runtime.call('putSku', { sku, patch })
        return c.json({ policy })
      } catch (err) {
        throw withFieldList(err)
      }
    },
  },
]
