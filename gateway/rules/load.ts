/**
 * Loading rule packs: YAML text -> validated, frozen rules, or every problem at once. Pure apart from
 * reading the directory; nothing is evaluated. A bad pack is refused as a whole (the caller keeps
 * running the rules it had).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseDocument } from 'yaml'
import { formatRuleIssues, located, RULE_PARSE_OPTIONS } from './issues.ts'
import { RULE_ID } from './fields.ts'
import { rulePackSchema, type Rule } from './schema.ts'

/** One validated pack and the file it came from. */
export interface LoadedPack {
  readonly file: string
  readonly rules: readonly Rule[]
}

export type PackResult = { ok: true; pack: LoadedPack } | { ok: false; errors: string[] }
export type LoadResult = { ok: true; packs: readonly LoadedPack[]; rules: readonly Rule[] } | { ok: false; errors: string[] }

const PACK_FILE = /\.ya?ml$/
/** The SKU master lives beside the packs (`gateway/state/skus.ts`) and is not a pack. */
/** The SKU master, which lives beside the packs. */
export const NOT_A_PACK = /^skus\.ya?ml$/
/** A pack file name the API may write: no paths, no dots but the extension. */
export const PACK_FILE_NAME = /^[A-Za-z0-9_-]{1,64}\.ya?ml$/

interface Parsed {
  errors: string[]
  pack?: LoadedPack
  /** Rule ids as written (valid ones only), with their index, even when the pack is invalid. */
  ids: Array<{ id: string; index: number }>
}

function yamlData(text: string, file: string): { data: unknown; errors: string[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length) {
    const lines = doc.errors.map((e) => {
      const at = e.linePos?.[0]
      const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
      return `${file}: ${at ? `line ${at.line}, column ${at.col}: ` : ''}YAML syntax error: ${what}`
    })
    return { data: undefined, errors: lines }
  }
  try {
    return { data: doc.toJS({ maxAliasCount: 100 }), errors: [] }
  } catch (err) {
    return { data: undefined, errors: [`${file}: ${(err as Error).message}`] }
  }
}

function rawIds(data: unknown): Array<{ id: string; index: number }> {
  const rules = (data as { rules?: unknown } | null)?.rules
  if (!Array.isArray(rules)) return []
  return rules.flatMap((r: unknown, index) => {
    const id = (r as { id?: unknown } | null)?.id
    return typeof id === 'string' && RULE_ID.test(id) ? [{ id, index }] : []
  })
}

function parse(text: string, file: string): Parsed {
  const { data, errors } = yamlData(text, file)
  if (errors.length) return { errors, ids: [] }
  if (data === null || data === undefined) return { errors: [`${file}: the file is empty; a rule pack is version: 1 and a list of rules:`], ids: [] }
  const ids = rawIds(data)
  const out: string[] = []
  const result = rulePackSchema.safeParse(data, RULE_PARSE_OPTIONS)
  if (!result.success) out.push(...formatRuleIssues(file, data, result.error.issues))
  const first = new Map<string, number>()
  for (const { id, index } of ids) {
    const earlier = first.get(id)
    if (earlier === undefined) first.set(id, index)
    else out.push(located(file, data, ['rules', index, 'id'], `also used by rules[${earlier}] in this file; rule ids must be unique`))
  }
  if (out.length || !result.success) return { errors: out, ids }
  return { errors: [], ids, pack: deepFreeze({ file, rules: result.data.rules }) }
}

/**
 * Validate one pack, e.g. the body of `PUT /api/v1/rules`; `fileName` prefixes every error.
 * @example parseRulePack('version: 1\nrules: []\n', 'rules/extra.yaml') // { ok: true, pack: { file, rules: [] } }
 */
export function parseRulePack(text: string, fileName: string): PackResult {
  const parsed = parse(text, fileName)
  return parsed.pack ? { ok: true, pack: parsed.pack } : { ok: false, errors: parsed.errors }
}

/**
 * Load every `*.yaml` / `*.yml` file of `dir` (not subdirectories), in name order. Either every pack
 * is valid and rule ids are unique across them all, or the result lists every error of every file.
 */
export function loadRulePacks(dir: string): LoadResult {
  let names: string[]
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && PACK_FILE.test(e.name) && !NOT_A_PACK.test(e.name))
      .map((e) => e.name)
      .sort()
  } catch (err) {
    return { ok: false, errors: [`${dir}: cannot read the rules directory: ${(err as Error).message}`] }
  }
  const errors: string[] = []
  const packs: LoadedPack[] = []
  const owner = new Map<string, string>()
  for (const name of names) {
    const file = join(dir, name)
    let parsed: Parsed
    try {
      parsed = parse(readFileSync(file, 'utf8'), file)
    } catch (err) {
      errors.push(`${file}: cannot read: ${(err as Error).message}`)
      continue
    }
    errors.push(...parsed.errors)
    if (parsed.pack) packs.push(parsed.pack)
    for (const { id } of new Map(parsed.ids.map((e) => [e.id, e])).values()) {
      const other = owner.get(id)
      if (other === undefined) owner.set(id, file)
      else errors.push(`${file}: rule ${id}: id: also defined in ${other}; rule ids must be unique across all rule packs`)
    }
  }
  if (errors.length) return { ok: false, errors }
  return { ok: true, packs: Object.freeze(packs), rules: Object.freeze(packs.flatMap((p) => p.rules)) }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}
