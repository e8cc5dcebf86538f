/**
 * Payload contracts of device messages: which topics and payloads the gateway accepts, how they
 * become records, and why anything else is refused. See README.md for the table of kinds and codes.
 */
export type { DecodeContext, Decoded, MessageContract, MessageKind, Refusal } from './contract.ts'
export { decodeMessage, sampleOf } from './decode.ts'
export { jsonSchemas, jsonSchemaText, writeJsonSchemas } from './json-schema.ts'
export { CONTRACTS, MESSAGE_KINDS } from './registry.ts'
export { parseTopic, type ParsedTopic } from './topic.ts'
export type { ReadingBatchPayload, ReadingPayload } from './reading.ts'
export type { ScanPayload } from './scan.ts'
export type { ShipmentPayload } from './shipment.ts'
export type { StatusPayload } from './status.ts'

import type { ReadingBatchPayload, ReadingPayload } from './reading.ts'
import type { ScanPayload } from './scan.ts'
import type { ShipmentPayload } from './shipment.ts'
import type { StatusPayload } from './status.ts'

/** Payload type per topic kind, for publishers (simulators, tests) and subscribers. */
export interface TopicPayloads {
  reading: ReadingPayload | ReadingBatchPayload
  scan: ScanPayload
  shipment: ShipmentPayload
  status: StatusPayload
}
