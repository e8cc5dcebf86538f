/** The condition kinds a rule may use. Adding a kind: one file exporting a `ConditionKind`, one line here. */
import { z } from 'zod'
import { absence } from './absence.ts'
import { batteryLow } from './battery-low.ts'
import { deviceSilent } from './device-silent.ts'
import { forecast } from './forecast.ts'
import type { ConditionKind } from './kind.ts'
import { shipmentSla } from './shipment-sla.ts'
import { shipmentStalled } from './shipment-stalled.ts'
import { stockDiscrepancy } from './stock-discrepancy.ts'
import { stock } from './stock.ts'
import { threshold } from './threshold.ts'

const ALL = [threshold, stock, stockDiscrepancy, forecast, shipmentSla, shipmentStalled, deviceSilent, batteryLow, absence] as const

type SchemasOf<T extends readonly unknown[]> = { -readonly [I in keyof T]: T[I] extends ConditionKind<infer S> ? S : never }
type Schemas = SchemasOf<typeof ALL>

/** `condition:` of a rule: a union discriminated on `kind`. */
export const conditionSchema = z.discriminatedUnion('kind', ALL.map((k) => k.schema) as unknown as Schemas)
export type Condition = z.infer<typeof conditionSchema>

/** Kind name -> its contract. A Map, so `kind: __proto__` finds nothing. */
export const CONDITION_KINDS: ReadonlyMap<string, ConditionKind> = new Map(ALL.map((k) => [k.kind, k]))
