/**
 * Rule packs: what is loaded, replacing one pack file, and re-reading the directory. A pack is
 * validated with every other loaded pack (rule ids are unique across all) before anything is written;
 * a refused pack or reload is a 400 listing every error in `details.errors`, and the running rules stay.
 */
import { z } from 'zod'
import { NOT_A_PACK, PACK_FILE_NAME } from '../rules/load.ts'
import { MAX_RULE_PACK_BYTES, readText } from './body.ts'
import { warehouseOf } from './deps.ts'
import { parseParams, parseQuery } from './params.ts'
import type { Route } from './route.ts'

/** A pack file directly in `rules.dir`; `skus.yaml` is the SKU master, not a pack. */
export const packFile = z
  .string()
  .regex(PACK_FILE_NAME, 'expected a rule pack file name: 1-64 letters, digits, _ and -, ending in .yaml or .yml')
  .refine((f) => !NOT_A_PACK.test(f), 'skus.yaml is the SKU master, not a rule pack; edit SKUs with PUT /api/v1/skus/{sku}')

export const ruleRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/rules',
    access: 'admin',
    handle: async (c, deps) => {
      parseQuery(c, z.strictObject({}))
      return c.json(await warehouseOf(deps).runtime.call('describeRules', undefined))
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/rules/{file}',
    access: 'admin',
    handle: async (c, deps) => {
      const { file } = parseParams(c, z.object({ file: packFile }))
      // The body is the file as written, YAML or JSON (JSON is YAML too); it is stored as sent.
      const text = await readText(c, MAX_RULE_PACK_BYTES)
      const result = await warehouseOf(deps).runtime.call('putRules', { file, text })
      return c.json({ file, path: result.file, rules: result.rules })
    },
  },
  {
    method: 'POST',
    path: '/api/v1/rules/reload',
    access: 'admin',
    handle: async (c, deps) => {
      parseQuery(c, z.strictObject({}))
      return c.json(await warehouseOf(deps).runtime.call('reloadRules', undefined))
    },
  },
]
