/** JSON Schema (draft 2020-12) of each message kind, generated from the zod contracts for integrators. */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { MessageKind } from './contract.ts'
import { CONTRACTS } from './registry.ts'

/** The JSON Schema of every kind, with the contract's examples. */
export function jsonSchemas(): Record<MessageKind, Record<string, unknown>> {
  const out = {} as Record<MessageKind, Record<string, unknown>>
  for (const c of CONTRACTS.values()) {
    const schema = z.toJSONSchema(c.schema, { io: 'input' }) as Record<string, unknown>
    out[c.kind] = { $id: `urn:stockyard:contract:v1:${c.kind}`, ...schema, examples: c.examples }
  }
  return out
}

/** The file text for one schema; the writer and the freshness test share it. */
export function jsonSchemaText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`
}

/** Writes `{kind}.schema.json` for every kind into `outDir` (created if missing); returns the paths. */
export async function writeJsonSchemas(outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true })
  const written: string[] = []
  for (const [kind, schema] of Object.entries(jsonSchemas())) {
    const file = join(outDir, `${kind}.schema.json`)
    await writeFile(file, jsonSchemaText(schema))
    written.push(file)
  }
  return written
}
