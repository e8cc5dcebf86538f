/**
 * The contract of one condition kind: its schema (a strict object with a `kind` literal), the labels
 * each of its alerts carries (one alert per distinct label set) and the placeholders its annotations
 * may use besides the common ones. Adding a kind is one file exporting this, plus one registry line.
 */
import type { z } from 'zod'

export interface ConditionKind<S extends z.ZodType = z.ZodType> {
  /** The `kind:` value in YAML. */
  readonly kind: string
  /** One line for the reference table. */
  readonly summary: string
  readonly schema: S
  /** Labels set on each alert; a rule's own labels may not reuse these names. */
  readonly labels: readonly string[]
  /** Placeholders this kind adds to the common ones (`value`, `threshold`, `since`, `rule.id`, `rule.severity`). */
  readonly placeholders: readonly string[]
}
