/** The message kinds this gateway accepts. Adding a kind: one file exporting a contract, one line here. */
import type { MessageContract, MessageKind } from './contract.ts'
import { reading } from './reading.ts'
import { scan } from './scan.ts'
import { shipment } from './shipment.ts'
import { status } from './status.ts'

const ALL: ReadonlyArray<MessageContract<unknown>> = [reading, scan, shipment, status]

/** Kind -> contract. A Map, so a topic level such as `__proto__` or `constructor` finds nothing. */
export const CONTRACTS: ReadonlyMap<string, MessageContract<unknown>> = new Map(ALL.map((c) => [c.kind, c]))

/** The kinds, in documentation order. */
export const MESSAGE_KINDS: readonly MessageKind[] = ALL.map((c) => c.kind)
