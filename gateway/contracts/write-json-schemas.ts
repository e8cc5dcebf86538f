/**
 * Regenerates the published JSON Schemas from the zod contracts.
 * Usage: node --import tsx gateway/contracts/write-json-schemas.ts [outDir]   (default: gateway/contracts/json-schema/)
 */
import { fileURLToPath } from 'node:url'
import { writeJsonSchemas } from './json-schema.ts'

const outDir = process.argv[2] ?? fileURLToPath(new URL('./json-schema/', import.meta.url))
for (const file of await writeJsonSchemas(outDir)) console.log(`wrote ${file}`)
