/**
 * Zod issues of a rule pack, as lines that name the file, the rule and the field:
 * `rules/warehouse.yaml: rule cold-room-warm: condition.window.size: "10 minutes" is not a duration (use 30s, 10m, 4h, 1d)`.
 * A rule is named by its id, or by its index (`rules[3]`) when the id is missing or invalid.
 */
import type { z } from 'zod'
import { describeValue, formatPath, issueMessage } from '../contracts/issues.ts'
import { CONDITION_KINDS } from './conditions/index.ts'
import { RULE_ID } from './fields.ts'

const YAML_TYPES: Record<string, string> = { object: 'a mapping (key: value)', record: 'a mapping (key: value)', array: 'a list' }

/** The per-parse error map: YAML wording, the condition kinds, quoting hints; else the contract wording. */
export function ruleIssueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') {
    const expected = YAML_TYPES[iss.expected]
    if (expected) return iss.input === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${describeValue(iss.input)}`
    if (iss.expected === 'string' && (typeof iss.input === 'number' || typeof iss.input === 'boolean')) {
      return `expected a string, got ${describeValue(iss.input)}; quote it in YAML: "${String(iss.input)}"`
    }
  }
  if (iss.code === 'invalid_union' && iss.note === 'No matching discriminator') {
    const kind = (iss.input as { kind?: unknown } | undefined)?.kind
    const kinds = [...CONDITION_KINDS.keys()].join(', ')
    return kind === undefined
      ? `missing; a condition starts with kind: one of ${kinds}`
      : `unknown condition kind ${typeof kind === 'string' ? JSON.stringify(kind) : describeValue(kind)}; kinds are ${kinds}`
  }
  return issueMessage(iss)
}

/** Options for `rulePackSchema.safeParse(value, RULE_PARSE_OPTIONS)`. */
export const RULE_PARSE_OPTIONS = { error: ruleIssueMessage } as const

/** `rule cold-room-warm`, or `rules[3]` when that rule has no valid id. */
export function ruleName(raw: unknown, index: number): string {
  const id = (raw as { rules?: Array<{ id?: unknown } | null> } | null)?.rules?.[index]?.id
  return typeof id === 'string' && RULE_ID.test(id) ? `rule ${id}` : `rules[${index}]`
}

/** `file: rule id: field.path: message` for a path inside a pack; the rule part is left out above rules. */
export function located(file: string, raw: unknown, path: readonly PropertyKey[], message: string): string {
  const parts = [file]
  let rest = path
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    parts.push(ruleName(raw, path[1]))
    rest = path.slice(2)
  }
  if (rest.length) parts.push(formatPath(rest))
  return `${parts.join(': ')}: ${message}`
}

/** One line per issue (one per unknown key), in the order zod found them. */
export function formatRuleIssues(file: string, raw: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((iss) =>
    iss.code === 'unrecognized_keys'
      ? iss.keys.map((k) => located(file, raw, [...iss.path, k], iss.message.replace(/^unknown keys/, 'unknown key')))
      : [located(file, raw, iss.path, iss.message)],
  )
}
