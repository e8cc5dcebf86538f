/**
 * Node-RED flow files: the shipped ones in `flows/*.json` (one tab each, deployed on first start) and
 * the files `stockyard flows export|import` moves between sites. A flow file is a JSON array of nodes,
 * each with a string `id` and `type`; everything else is Node-RED's business.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { formatIssues } from '../config/load.ts'

export const FlowNodeSchema = z.looseObject({
  id: z.string().min(1).max(128),
  type: z.string().min(1).max(128),
  z: z.string().max(128).optional(),
})
export type FlowNode = z.infer<typeof FlowNodeSchema>

export const FlowFileSchema = z.array(FlowNodeSchema).max(100_000)

/** Check a parsed flow file: its shape, and that node ids are unique. Returns the problems, or the nodes. */
export function checkFlows(input: unknown, name: string): { ok: true; nodes: FlowNode[] } | { ok: false; errors: string[] } {
  const parsed = FlowFileSchema.safeParse(input)
  const errors = parsed.success ? [] : formatIssues(parsed.error).map((e) => `${name}: ${e}`)
  // Duplicate ids are looked for also when some nodes are malformed, so every problem is named at once.
  const seen = new Set<string>()
  for (const n of Array.isArray(input) ? (input as unknown[]) : []) {
    const id = n && typeof n === 'object' ? (n as { id?: unknown }).id : undefined
    if (typeof id !== 'string') continue
    if (seen.has(id)) errors.push(`${name}: node id ${JSON.stringify(id)} is used twice`)
    seen.add(id)
  }
  return parsed.success && !errors.length ? { ok: true, nodes: parsed.data } : { ok: false, errors }
}

/**
 * Node-RED keeps a tab's (or subflow's, or group's) `cred`-typed env values in its encrypted
 * credentials (by name; under `map` for the global-config node), not in the flow file; a flow file
 * written by hand may carry them inline. Moves them there, so that deploying the file encrypts them.
 */
export function credentialsToMap(nodes: readonly FlowNode[]): FlowNode[] {
  return nodes.map((n) => {
    const env = (n as { env?: unknown }).env
    if (!Array.isArray(env)) return n
    const map: Record<string, unknown> = {}
    const kept = env.map((e: unknown) => {
      if (!e || typeof e !== 'object' || (e as { type?: unknown }).type !== 'cred') return e
      const { name, value } = e as { name?: unknown; value?: unknown }
      if (typeof name === 'string' && typeof value === 'string' && value !== '') map[name] = value
      return { ...e, value: '' }
    })
    if (!Object.keys(map).length) return n
    const creds = ((n as { credentials?: Record<string, unknown> }).credentials ?? {}) as Record<string, unknown> & { map?: Record<string, unknown> }
    const credentials = n.type === 'global-config' ? { ...creds, map: { ...creds.map, ...map } } : { ...creds, ...map }
    return { ...n, env: kept, credentials }
  })
}

/** The shipped flows: every `*.json` in `dir` (sorted by name), concatenated; node ids must be unique over all files. */
export function loadShippedFlows(dir: string): { ok: true; nodes: FlowNode[]; files: string[] } | { ok: false; errors: string[] } {
  let files: string[]
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.json') && f !== 'package.json')
      .sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, nodes: [], files: [] }
    throw err
  }
  const nodes: FlowNode[] = []
  const errors: string[] = []
  for (const f of files) {
    let json: unknown
    try {
      json = JSON.parse(readFileSync(join(dir, f), 'utf8'))
    } catch (err) {
      errors.push(`${f}: not valid JSON: ${(err as Error).message}`)
      continue
    }
    const checked = checkFlows(json, f)
    if (checked.ok) nodes.push(...checked.nodes)
    else errors.push(...checked.errors)
  }
  if (!errors.length) {
    const all = checkFlows(nodes, dir)
    if (!all.ok) errors.push(...all.errors)
  }
  return errors.length ? { ok: false, errors } : { ok: true, nodes, files }
}

/**
 * A flow set without secrets, to move to another site: every node's `credentials` is dropped, and so
 * are the values of `cred`-typed environment entries of tabs, subflows and groups.
 */
export function stripCredentials(nodes: readonly FlowNode[]): FlowNode[] {
  return nodes.map((n) => {
    const out: Record<string, unknown> = { ...n }
    delete out.credentials
    if (Array.isArray(out.env)) {
      out.env = out.env.map((e: unknown) => (e && typeof e === 'object' && (e as { type?: unknown }).type === 'cred' ? { ...e, value: '' } : e))
    }
    return out as FlowNode
  })
}
