/**
 * A validated rule turned into what the engine runs: parsed annotation templates, a selector test
 * and an identity. The identity is the rule id plus its condition: a reload that changes only the
 * severity, labels, annotations, targets or `for` keeps the rule's alerts; one that changes what is
 * measured starts them afresh.
 */
import { createHash } from 'node:crypto'
import { matchGlob } from '../glob.ts'
import type { Rule } from '../schema.ts'
import { COMMON_PLACEHOLDERS, parseTemplate, type Segment } from '../template.ts'
import { CONDITION_KINDS } from '../conditions/index.ts'
import type { LifecycleRule } from './lifecycle.ts'

export interface ActiveRule extends LifecycleRule {
  readonly rule: Rule
  readonly identity: string
  /** True when every key of `select` present in the condition matches `labels`. */
  selects(labels: Readonly<Record<string, string>>): boolean
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v)
}

export function compileRule(rule: Rule): ActiveRule {
  const kind = CONDITION_KINDS.get(rule.condition.kind)!
  const known = new Set<string>([...COMMON_PLACEHOLDERS, ...kind.placeholders])
  const annotations = Object.entries(rule.annotations).map(([name, text]): [string, Segment[]] => {
    const parsed = parseTemplate(text, known)
    // The schema already refused bad templates; this cannot fail for a validated rule.
    return [name, parsed.ok ? parsed.segments : [{ text }]]
  })
  const select = Object.entries(('select' in rule.condition ? rule.condition.select : undefined) ?? {}) as Array<[string, string]>
  return {
    rule,
    id: rule.id,
    forMs: rule.for,
    clearForMs: rule.clear_for,
    severity: rule.severity,
    labels: rule.labels,
    annotations,
    notify: rule.notify,
    identity: createHash('sha256').update(rule.id).update(canonical(rule.condition)).digest('hex'),
    selects: (labels) => select.every(([k, pattern]) => matchGlob(pattern, labels[k] ?? '')),
  }
}
