/**
 * The rule pack language: a YAML file with `version: 1` and a list of `rules`. Each rule names one
 * condition (see `conditions/`), how long it must hold (`for`), how it clears (`clear` in the
 * condition, `clear_for` here), a severity, labels, templated annotations and notification targets.
 * Everything is data: durations become milliseconds, templates are checked against a fixed list of
 * placeholder names, and nothing in a pack is ever executed.
 */
import { z } from 'zod'
import { describeValue } from '../contracts/issues.ts'
import { CONDITION_KINDS, conditionSchema } from './conditions/index.ts'
import { duration } from './duration.ts'
import { afterFields, name, ruleId } from './fields.ts'
import { COMMON_PLACEHOLDERS, labelOf, parseTemplate } from './template.ts'

/** Every placeholder some condition kind offers; a rule's own kind narrows this further. */
const ANY_PLACEHOLDER: ReadonlySet<string> = new Set([...COMMON_PLACEHOLDERS, ...[...CONDITION_KINDS.values()].flatMap((k) => k.placeholders)])

const template = z
  .string()
  .max(2048)
  .superRefine((text, ctx) => {
    const parsed = parseTemplate(text, ANY_PLACEHOLDER)
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message })
  })

const TARGET = /^(mqtt|bus|webhook:[a-z0-9][a-z0-9_-]{0,63})$/
const target = z.string().regex(TARGET, {
  error: (iss) => `${describeValue(iss.input)} is not a notification target; use mqtt, bus or webhook:<name> (a webhook named in the gateway config)`,
})

export const SEVERITIES = ['info', 'warning', 'critical'] as const

/** One rule. Durations are milliseconds after parsing. */
export const ruleSchema = z
  .strictObject({
    id: ruleId,
    description: z.string().max(1024).optional(),
    enabled: z.boolean().default(true),
    condition: conditionSchema,
    /** The condition must hold this long before the alert fires (pending until then). */
    for: duration.default(0),
    /** The clear condition must hold this long before the alert resolves. */
    clear_for: duration.default(0),
    severity: z.enum(SEVERITIES),
    labels: z.record(name('label name'), z.string().max(256)).default({}),
    annotations: z.record(name('annotation name'), template).default({}),
    notify: z
      .array(target)
      .refine((t) => new Set(t).size === t.length, { message: 'lists a target twice' })
      .default([]),
  })
  .superRefine(
    (rule, ctx) => {
      const kind = CONDITION_KINDS.get(rule.condition.kind)!
      for (const label of Object.keys(rule.labels)) {
        if (kind.labels.includes(label)) {
          ctx.addIssue({
            code: 'custom',
            path: ['labels', label],
            message: `clashes with the ${label} label that every ${kind.kind} alert carries; choose another name`,
          })
        }
      }
    },
    afterFields('condition', 'labels'),
  )
  .superRefine(
    (rule, ctx) => {
      // Names valid for some kind passed the field check; here each must exist for this rule's kind.
      const kind = CONDITION_KINDS.get(rule.condition.kind)!
      const known = new Set([...COMMON_PLACEHOLDERS, ...kind.placeholders])
      const own = typeof rule.labels === 'object' && rule.labels !== null ? Object.keys(rule.labels) : []
      const labels = [...kind.labels, ...own]
      for (const [key, text] of Object.entries(rule.annotations)) {
        const parsed = parseTemplate(text, known)
        if (!parsed.ok) {
          ctx.addIssue({ code: 'custom', path: ['annotations', key], message: parsed.message.replace('the alert', `a ${kind.kind} alert`) })
          continue
        }
        for (const seg of parsed.segments) {
          const label = 'name' in seg ? labelOf(seg.name) : undefined
          if (label !== undefined && !labels.includes(label)) {
            ctx.addIssue({
              code: 'custom',
              path: ['annotations', key],
              message: `{{ labels.${label} }} is not a label of a ${kind.kind} alert; its labels are ${labels.join(', ')}`,
            })
          }
        }
      }
    },
    afterFields('condition', 'annotations'),
  )

/** A rule pack file. Rule ids are unique across all packs (checked by the loader). */
export const rulePackSchema = z.strictObject({
  version: z.literal(1, {
    error: (iss) =>
      iss.input === undefined ? 'missing; a rule pack starts with version: 1' : `${describeValue(iss.input)} is not supported; supported versions: 1`,
  }),
  rules: z.array(ruleSchema),
})

export type Rule = z.infer<typeof ruleSchema>
export type RulePack = z.infer<typeof rulePackSchema>
export type { Condition } from './conditions/index.ts'
