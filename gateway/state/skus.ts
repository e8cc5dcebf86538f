/**
 * The SKU master: each SKU's inventory policy (reorder point, safety stock, lead time, pack size) and
 * the pick-face bin a shelf scale watches. Written in `DIR/skus.yaml` or `DIR/skus.csv` (one of the
 * two), validated as a whole at load with every problem named by file, row and field, and kept in the
 * table `sku_policy`. Edits through the API are stored with source 'api' and win over the file, also
 * after a restart.
 *
 * `SkuMaster` reads through to the table instead of caching, so an edit made on another connection
 * is seen at once; a lookup is one indexed row.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Database, Statement } from 'better-sqlite3'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { id } from '../contracts/fields.ts'
import { describeValue, formatIssues, formatPath, PARSE_OPTIONS } from '../contracts/issues.ts'
import type { Clock } from '../core/clock.ts'
import { StockyardError } from '../core/errors.ts'
import { duration, formatDuration } from '../rules/duration.ts'
import { afterFields } from '../rules/fields.ts'
import { RULE_PARSE_OPTIONS } from '../rules/issues.ts'
import { parseCsv } from './csv.ts'
import { hasTable } from './sql.ts'

const skuId = id('SKU')

const fields = z.strictObject({
  sku: skuId,
  description: z.string().max(1024).optional(),
  unit_weight_kg: z
    .number()
    .gt(0, { error: (iss) => `must be greater than 0, got ${describeValue(iss.input)}` })
    .optional(),
  /** Cost of one unit (any currency): ABC ranks SKUs by value with it, EOQ's holding cost is a share of it. */
  unit_cost: z
    .number()
    .gt(0, { error: (iss) => `must be greater than 0, got ${describeValue(iss.input)}` })
    .optional(),
  reorder_point: z.number().int().min(0),
  safety_stock: z.number().int().min(0),
  /** Text in (`3d`); normalised text and `lead_time_ms` out. */
  lead_time: duration,
  pack_size: z.number().int().min(1).default(1),
  bin: id('Pick-face location a shelf scale watches').optional(),
})

/** One SKU's policy, as written in the file or sent to the API. */
export const skuEntrySchema = fields
  .superRefine(
    (e, ctx) => {
      if (e.safety_stock <= e.reorder_point) return
      ctx.addIssue({
        code: 'custom',
        path: ['safety_stock'],
        message: `${e.safety_stock} must be at most reorder_point (${e.reorder_point}): you reorder at the reorder point, and safety stock is what is left while the order is on its way`,
      })
    },
    afterFields('safety_stock', 'reorder_point'),
  )
  .transform(({ lead_time, ...rest }) => ({ ...rest, lead_time: formatDuration(lead_time), lead_time_ms: lead_time }))

/** A validated policy: `lead_time` is normalised text (`72h` becomes `3d`), `lead_time_ms` its value. */
export type SkuPolicy = z.output<typeof skuEntrySchema>

/** A policy as stored, with where it came from and when (clock ms) it was last written. */
export type SkuRecord = SkuPolicy & { source: 'file' | 'api'; updatedAt: number }

export type SkuFileResult = { ok: true; file: string | undefined; entries: SkuPolicy[] } | { ok: false; errors: string[] }

const skuFileSchema = z.strictObject({
  version: z.literal(1, {
    error: (iss) =>
      iss.input === undefined ? 'missing; a SKU master starts with version: 1' : `${describeValue(iss.input)} is not supported; supported versions: 1`,
  }),
  skus: z.array(skuEntrySchema),
})

const COLUMNS = Object.keys(fields.shape)
const REQUIRED = ['sku', 'reorder_point', 'safety_stock', 'lead_time']
const NUMERIC = new Set(['unit_weight_kg', 'unit_cost', 'reorder_point', 'safety_stock', 'pack_size'])
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

/** The row's sku when it is a valid one. */
function validSku(raw: unknown): string | undefined {
  const parsed = skuId.safeParse((raw as { sku?: unknown } | null)?.sku)
  return parsed.success ? parsed.data : undefined
}

/** `sku SKU-0001` when the row has a valid sku, else `fallback` (`skus[3]`, `line 4`). */
function rowName(raw: unknown, fallback: string): string {
  const sku = validSku(raw)
  return sku === undefined ? fallback : `sku ${sku}`
}

/** `prefix: field: message` for an issue at `path` (one line per unknown key). */
function issueLines(prefix: string, path: readonly PropertyKey[], iss: z.core.$ZodIssue): string[] {
  const unknown = iss.code === 'unrecognized_keys'
  const message = unknown ? iss.message.replace(/^unknown keys/, 'unknown key') : iss.message
  const paths = unknown ? iss.keys.map((k) => [...path, k]) : [path]
  return paths.map((p) => (p.length ? `${prefix}: ${formatPath(p)}: ${message}` : `${prefix}: ${message}`))
}

/** One error per repeated sku, naming where it was first listed. */
function duplicates(file: string, rows: Array<{ where: string; raw: unknown }>): string[] {
  const first = new Map<string, string>()
  const errors: string[] = []
  for (const { where, raw } of rows) {
    const sku = validSku(raw)
    if (sku === undefined) continue
    const earlier = first.get(sku)
    if (earlier === undefined) first.set(sku, where)
    else errors.push(`${file}: sku ${sku}: sku: also listed at ${earlier}; list each SKU once`)
  }
  return errors
}

function parseYaml(text: string, file: string): SkuFileResult {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const at = e.linePos?.[0]
        return `${file}: ${at ? `line ${at.line}, column ${at.col}: ` : ''}YAML syntax error: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`
      }),
    }
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 })
  if (data === null || data === undefined) return { ok: false, errors: [`${file}: the file is empty; a SKU master is version: 1 and a list of skus:`] }
  const result = skuFileSchema.safeParse(data, RULE_PARSE_OPTIONS)
  const raw = (data as { skus?: unknown }).skus
  const rows: unknown[] = Array.isArray(raw) ? raw : []
  const errors: string[] = []
  for (const iss of result.success ? [] : result.error.issues) {
    const [head, index, ...rest] = iss.path
    if (head === 'skus' && typeof index === 'number') errors.push(...issueLines(`${file}: ${rowName(rows[index], `skus[${index}]`)}`, rest, iss))
    else errors.push(...issueLines(file, iss.path, iss))
  }
  errors.push(
    ...duplicates(
      file,
      rows.map((r, i) => ({ where: `skus[${i}]`, raw: r })),
    ),
  )
  return errors.length || !result.success ? { ok: false, errors } : { ok: true, file, entries: result.data.skus }
}

function parseCsvFile(text: string, file: string): SkuFileResult {
  const parsed = parseCsv(text)
  if (!parsed.ok) return { ok: false, errors: [`${file}: line ${parsed.line}: ${parsed.message}`] }
  const [header, ...records] = parsed.records
  if (!header) return { ok: false, errors: [`${file}: the file is empty; the first line names the columns: ${COLUMNS.join(',')}`] }
  const errors: string[] = []
  const seen = new Set<string>()
  for (const name of header.cells) {
    if (!COLUMNS.includes(name)) errors.push(`${file}: line ${header.line}: column ${JSON.stringify(name)}: unknown column; columns are ${COLUMNS.join(', ')}`)
    else if (seen.has(name)) errors.push(`${file}: line ${header.line}: column ${name}: named twice`)
    seen.add(name)
  }
  for (const name of REQUIRED) if (!seen.has(name)) errors.push(`${file}: line ${header.line}: missing column ${name}`)
  if (errors.length) return { ok: false, errors }
  const entries: SkuPolicy[] = []
  const rows: Array<{ where: string; raw: unknown }> = []
  for (const { line, cells } of records) {
    if (cells.length !== header.cells.length) {
      errors.push(`${file}: line ${line}: has ${cells.length} cells, but the header has ${header.cells.length} columns`)
      continue
    }
    const row: Record<string, unknown> = {}
    header.cells.forEach((name, i) => {
      const cell = cells[i]!
      if (cell !== '') row[name] = NUMERIC.has(name) && NUMBER.test(cell) ? Number(cell) : cell
    })
    rows.push({ where: `line ${line}`, raw: row })
    const result = skuEntrySchema.safeParse(row, PARSE_OPTIONS)
    if (result.success) entries.push(result.data)
    else for (const iss of result.error.issues) errors.push(...issueLines(`${file}: ${rowName(row, `line ${line}`)}`, iss.path, iss))
  }
  errors.push(...duplicates(file, rows))
  return errors.length ? { ok: false, errors } : { ok: true, file, entries }
}

/**
 * Reads `dir/skus.yaml` or `dir/skus.csv`. Neither is fine (no file entries); both is an error.
 * @example
 * const r = loadSkuFile('rules')
 * if (r.ok) db.transaction(() => master.syncFile(r.entries))(); else for (const e of r.errors) log.error(e)
 */
export function loadSkuFile(dir: string): SkuFileResult {
  const files = ['skus.yaml', 'skus.csv'].map((name) => join(dir, name)).filter((f) => existsSync(f))
  if (files.length > 1) return { ok: false, errors: [`${files.join(', ')}: keep the SKU master in one of the two files`] }
  const file = files[0]
  if (file === undefined) return { ok: true, file: undefined, entries: [] }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return { ok: false, errors: [`${file}: cannot read: ${(err as Error).message}`] }
  }
  return file.endsWith('.csv') ? parseCsvFile(text, file) : parseYaml(text, file)
}

interface Row {
  sku: string
  json: string
  source: 'file' | 'api'
  updated_at: number
}

const DDL = `CREATE TABLE IF NOT EXISTS sku_policy (
  sku TEXT PRIMARY KEY, json TEXT NOT NULL, source TEXT NOT NULL CHECK (source IN ('file', 'api')), updated_at INTEGER NOT NULL) WITHOUT ROWID`

/** The stored form: the policy without the derived `lead_time_ms`. */
function toJson({ lead_time_ms: _, ...entry }: SkuPolicy): string {
  return JSON.stringify(entry)
}

function toRecord(r: Row): SkuRecord {
  // Stored entries were validated when written; parsing again derives lead_time_ms.
  return { ...skuEntrySchema.parse(JSON.parse(r.json)), source: r.source, updatedAt: r.updated_at }
}

/** The SKU master table: file entries, API edits over them. */
export class SkuMaster {
  private readonly st: Record<'get' | 'list' | 'upsert' | 'delete', Statement>

  /** Creates the table if needed. */
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {
    db.exec(DDL)
    this.st = {
      get: db.prepare('SELECT * FROM sku_policy WHERE sku = ?'),
      list: db.prepare('SELECT * FROM sku_policy ORDER BY sku'),
      upsert: db.prepare(
        'INSERT INTO sku_policy (sku, json, source, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET json = excluded.json, source = excluded.source, updated_at = excluded.updated_at',
      ),
      delete: db.prepare('DELETE FROM sku_policy WHERE sku = ?'),
    }
  }

  /**
   * Makes the table match the file: writes file entries that changed, except SKUs edited through the
   * API, and deletes file rows no longer in the file. Atomic (a savepoint inside the caller's transaction).
   */
  syncFile(entries: readonly SkuPolicy[]): { written: number; deleted: number; apiKept: number } {
    return this.db
      .transaction(() => {
        const rows = new Map((this.st.list.all() as Row[]).map((r) => [r.sku, r]))
        const counts = { written: 0, deleted: 0, apiKept: 0 }
        const now = this.clock.now()
        for (const entry of entries) {
          const row = rows.get(entry.sku)
          const json = toJson(entry)
          if (row?.source === 'api') counts.apiKept++
          else if (row?.json !== json) {
            this.st.upsert.run(entry.sku, json, 'file', now)
            counts.written++
          }
        }
        const inFile = new Set(entries.map((e) => e.sku))
        for (const row of rows.values()) {
          if (row.source !== 'file' || inFile.has(row.sku)) continue
          this.st.delete.run(row.sku)
          counts.deleted++
        }
        return counts
      })
      .immediate()
  }

  /**
   * Edits one SKU through the API: `patch` is merged over the stored entry (a new SKU needs every
   * required field), validated with the file's schema, and stored with source 'api'.
   * @throws StockyardError `request.invalid`, naming each field that is wrong.
   * @example master.put('SKU-0001', { reorder_point: 40 })
   */
  put(sku: string, patch: Record<string, unknown>): SkuRecord {
    if (patch.sku !== undefined && patch.sku !== sku) {
      throw new StockyardError('request.invalid', `sku: ${describeValue(patch.sku)} differs from the SKU being edited (${sku}); leave sku out`)
    }
    const row = this.st.get.get(sku) as Row | undefined
    const merged = { ...(row ? (JSON.parse(row.json) as object) : {}), ...patch, sku }
    const result = skuEntrySchema.safeParse(merged, PARSE_OPTIONS)
    if (!result.success) throw new StockyardError('request.invalid', `SKU ${sku}: ${formatIssues(result.error.issues)}`, result.error.issues)
    this.st.upsert.run(sku, toJson(result.data), 'api', this.clock.now())
    return this.get(sku)!
  }

  get(sku: string): SkuRecord | undefined {
    const row = this.st.get.get(sku) as Row | undefined
    return row && toRecord(row)
  }

  list(): SkuRecord[] {
    return (this.st.list.all() as Row[]).map(toRecord)
  }
}

/** Every SKU policy from the table alone, for readers on another connection; empty before the table exists. */
export function readSkus(db: Database): SkuRecord[] {
  if (!hasTable(db, 'sku_policy')) return []
  return (db.prepare('SELECT * FROM sku_policy ORDER BY sku').all() as Row[]).map(toRecord)
}
