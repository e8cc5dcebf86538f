/** Field schemas shared by rules and their conditions: ids, names, comparisons, selectors, device kinds. */
import { z } from 'zod'
import { describeValue } from '../contracts/issues.ts'
import { glob } from './glob.ts'

/** Stable rule identity: alert state survives reloads for rules whose id is unchanged. */
export const RULE_ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/
export const ruleId = z
  .string({ error: (iss) => (iss.input === undefined ? 'missing; every rule needs an id such as cold-room-warm' : undefined) })
  .regex(RULE_ID, {
    error: (iss) => `${describeValue(iss.input)} is not a rule id; use 1-64 lowercase letters, digits and _ . -, starting with a letter or digit`,
  })
  .refine((id) => !id.startsWith('stockyard_'), { error: "ids starting with stockyard_ are reserved for the gateway's built-in alerts" })

const NAME = /^[a-z][a-z0-9_]{0,63}$/
/** Label, annotation and metric names: `sku`, `runbook_url`, `temperature_c`. */
export const name = (what: string) =>
  z.string().regex(NAME, {
    error: (iss) => `${describeValue(iss.input)} is not a ${what}; use 1-64 lowercase letters, digits and _, starting with a letter`,
  })

/** Comparison of a measured value against `value`. */
export const op = z.enum(['>', '>=', '<', '<='])
export type Op = z.infer<typeof op>

/** A finite number (YAML `.inf` and `.nan` are refused). */
export const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' })

/**
 * The hysteresis check for threshold-like conditions: an alert that fires above `value` must clear
 * below it, and one that fires below must clear above. Equal is refused too: omit `clear` instead.
 */
export function clearProblem(measure: string, op: Op, value: number, clear: number): string | undefined {
  const above = op === '>' || op === '>='
  if (above ? clear < value : clear > value) return undefined
  return (
    `${clear} must be ${above ? 'below' : 'above'} value ${value}: the alert fires when ${measure} ${op} ${value} ` +
    `and clears once ${measure} ${above ? '<' : '>'} clear (hysteresis); omit clear to clear at ${value}`
  )
}

/** A label selector: each key present must match its glob; keys left out match anything. */
export function selector<const K extends string>(keys: readonly [K, ...K[]]) {
  return z
    .strictObject(Object.fromEntries(keys.map((k) => [k, glob.optional()])) as Record<K, z.ZodOptional<typeof glob>>)
    .default({} as Partial<Record<K, string>> as never)
}

/** Device kinds, as registered with `stockyard devices add --kind`. */
export const deviceKind = z.enum(['env', 'scale', 'scanner', 'tracker', 'rfid', 'other'])

/** Scan events, as in the `scan` message contract. */
export const scanEvent = z.enum(['receive', 'putaway', 'pick', 'pack', 'ship', 'count', 'adjust'])

/** Shipment steps in order, as in the `shipment` message contract (`exception` is off the path). */
export const SHIPMENT_STEPS = ['released', 'picked', 'packed', 'loaded', 'departed', 'delivered'] as const

/**
 * Options for a cross-field check that should run even when other fields of the object failed, so a
 * pack's problems are all reported at once; it still waits for the fields it reads.
 * @example schema.superRefine(checkClear, afterFields('op', 'value', 'clear'))
 */
export function afterFields(...keys: string[]): z.core.$ZodSuperRefineParams {
  return {
    when: (p) =>
      typeof p.value === 'object' &&
      p.value !== null &&
      !p.issues.some((i) => {
        const head = i.path?.[0]
        return head === undefined ? i.code !== 'unrecognized_keys' : keys.includes(String(head))
      }),
  }
}
