/**
 * The SKU master: skus.yaml or skus.csv validated as a whole (every error names file, row and field),
 * and the sku_policy table where API edits win over the file and survive restarts.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../gateway/core/clock.ts'
import { StockyardError } from '../gateway/core/errors.ts'
import { loadSkuFile, readSkus, SkuMaster, type SkuPolicy } from '../gateway/state/skus.ts'
import { tempDir } from './helpers/gateway.ts'

const DAY = 86_400_000

let dir: string

beforeEach(() => {
  dir = tempDir('stockyard-skus-')
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

function errorsOf(name: string, text: string): string[] {
  writeFileSync(join(dir, name), text)
  const result = loadSkuFile(dir)
  return result.ok ? [] : result.errors
}

function entries(name: string, text: string): SkuPolicy[] {
  writeFileSync(join(dir, name), text)
  const result = loadSkuFile(dir)
  if (!result.ok) throw new Error(result.errors.join('\n'))
  return result.entries
}

describe('the shipped rules/skus.yaml', () => {
  it('loads the four demo SKUs, with lead times in ms and pack size defaulting to 1', () => {
    const result = loadSkuFile('rules')
    expect(result.ok ? [] : result.errors).toEqual([])
    if (!result.ok) return
    expect(result.file).toBe(join('rules', 'skus.yaml'))
    expect(result.entries.map((e) => e.sku)).toEqual(['SKU-0001', 'SKU-0002', 'SKU-0003', 'SKU-0004'])
    expect(result.entries[0]).toMatchObject({ reorder_point: 48, safety_stock: 24, lead_time: '2d', lead_time_ms: 2 * DAY, pack_size: 24, bin: 'A-1-1' })
    expect(result.entries[3]).toMatchObject({ lead_time: '1d12h', lead_time_ms: 1.5 * DAY, pack_size: 1 })
  })
})

describe('loading skus.yaml or skus.csv', () => {
  it('reads a YAML list under skus:', () => {
    const yaml = 'version: 1\nskus:\n  - { sku: A-1, reorder_point: 10, safety_stock: 4, lead_time: 72h }\n'
    expect(entries('skus.yaml', yaml)).toEqual([{ sku: 'A-1', reorder_point: 10, safety_stock: 4, lead_time: '3d', lead_time_ms: 3 * DAY, pack_size: 1 }])
  })

  it('reads a CSV whose header names the fields; quoted cells may hold commas, empty cells are left out', () => {
    const csv = [
      'sku,description,unit_weight_kg,reorder_point,safety_stock,lead_time,pack_size,bin',
      'A-1,"Tape, brown",0.25,36,12,1d,24,A-2-1',
      'A-2,,,10,0,12h,,',
      '',
    ].join('\r\n')
    expect(entries('skus.csv', csv)).toEqual([
      {
        sku: 'A-1',
        description: 'Tape, brown',
        unit_weight_kg: 0.25,
        reorder_point: 36,
        safety_stock: 12,
        lead_time: '1d',
        lead_time_ms: DAY,
        pack_size: 24,
        bin: 'A-2-1',
      },
      { sku: 'A-2', reorder_point: 10, safety_stock: 0, lead_time: '12h', lead_time_ms: DAY / 2, pack_size: 1 },
    ])
  })

  it('is fine with neither file, and refuses both', () => {
    expect(loadSkuFile(dir)).toEqual({ ok: true, file: undefined, entries: [] })
    writeFileSync(join(dir, 'skus.yaml'), 'version: 1\nskus: []\n')
    writeFileSync(join(dir, 'skus.csv'), 'sku,reorder_point,safety_stock,lead_time\n')
    expect(loadSkuFile(dir)).toEqual({
      ok: false,
      errors: [`${join(dir, 'skus.yaml')}, ${join(dir, 'skus.csv')}: keep the SKU master in one of the two files`],
    })
  })
})

describe('errors name the file, the row and the field, all at once', () => {
  it('in YAML: by sku, or by position when the sku is missing', () => {
    const file = join(dir, 'skus.yaml')
    const yaml = [
      'version: 1',
      'skus:',
      '  - { sku: A-1, reorder_point: 10, safety_stock: 12, lead_time: 3 days }',
      '  - { sku: A-2, reorder_point: 10, safety_stock: 0, lead_time: 1d, colour: red, unit_weight_kg: 0 }',
      '  - { reorder_point: 1.5, safety_stock: 0, lead_time: 1d }',
      '  - { sku: A-1, reorder_point: 1, safety_stock: 0, lead_time: 1d }',
    ].join('\n')
    expect(errorsOf('skus.yaml', yaml)).toEqual([
      `${file}: sku A-1: lead_time: "3 days" is not a duration (use 30s, 10m, 4h, 1d)`,
      `${file}: sku A-1: safety_stock: 12 must be at most reorder_point (10): you reorder at the reorder point, and safety stock is what is left while the order is on its way`,
      `${file}: sku A-2: unit_weight_kg: must be greater than 0, got number 0`,
      `${file}: sku A-2: colour: unknown key; allowed keys: sku, description, unit_weight_kg, unit_cost, reorder_point, safety_stock, lead_time, pack_size, bin`,
      `${file}: skus[2]: sku: missing; expected a string`,
      `${file}: skus[2]: reorder_point: expected an integer, got number 1.5`,
      `${file}: sku A-1: sku: also listed at skus[0]; list each SKU once`,
    ])
  })

  it('in YAML: the file as a whole', () => {
    const file = join(dir, 'skus.yaml')
    expect(errorsOf('skus.yaml', '')).toEqual([`${file}: the file is empty; a SKU master is version: 1 and a list of skus:`])
    expect(errorsOf('skus.yaml', 'skus: []\nsku: x\n')).toEqual([
      `${file}: version: missing; a SKU master starts with version: 1`,
      `${file}: sku: unknown key; allowed keys: version, skus`,
    ])
    expect(errorsOf('skus.yaml', 'version: 1\nskus: [\n')[0]).toMatch(new RegExp(`^${file}: line \\d+, column \\d+: YAML syntax error: `))
  })

  it('in CSV: by sku, or by line number when the sku is not valid', () => {
    const file = join(dir, 'skus.csv')
    const csv = ['sku,reorder_point,safety_stock,lead_time', 'A-1,ten,0,1d', 'A 2,5,0,1d', 'A-3,5,0', 'A-1,5,0,1d'].join('\n')
    expect(errorsOf('skus.csv', csv)).toEqual([
      `${file}: sku A-1: reorder_point: expected a finite number, got string "ten"`,
      `${file}: line 3: sku: expected letters, digits and . _ : / # + - (starting with a letter or digit), got string "A 2"`,
      `${file}: line 4: has 3 cells, but the header has 4 columns`,
      `${file}: sku A-1: sku: also listed at line 2; list each SKU once`,
    ])
  })

  it('in CSV: the header, before any row', () => {
    const file = join(dir, 'skus.csv')
    expect(errorsOf('skus.csv', 'sku,reorder,safety_stock,safety_stock\nA-1,1,0,0\n')).toEqual([
      `${file}: line 1: column "reorder": unknown column; columns are sku, description, unit_weight_kg, unit_cost, reorder_point, safety_stock, lead_time, pack_size, bin`,
      `${file}: line 1: column safety_stock: named twice`,
      `${file}: line 1: missing column reorder_point`,
      `${file}: line 1: missing column lead_time`,
    ])
    expect(errorsOf('skus.csv', 'sku,description\n"A-1,x\n')).toEqual([`${file}: line 2: a quoted cell is never closed; end it with "`])
  })
})

describe('SkuMaster', () => {
  let db: Database.Database
  let clock: ManualClock
  let master: SkuMaster
  const file = (extra = ''): SkuPolicy[] =>
    entries(
      'skus.yaml',
      `version: 1\nskus:\n  - { sku: A-1, reorder_point: 10, safety_stock: 4, lead_time: 2d }\n  - { sku: A-2, reorder_point: 5, safety_stock: 1, lead_time: 1d }\n${extra}`,
    )

  beforeEach(() => {
    db = new Database(join(dir, 'state.db'))
    clock = new ManualClock(1_000)
    master = new SkuMaster(db, clock)
  })

  afterEach(() => db.close())

  it('syncFile writes the file entries, and on a re-sync only what changed', () => {
    expect(master.syncFile(file())).toEqual({ written: 2, deleted: 0, apiKept: 0 })
    expect(master.get('A-1')).toMatchObject({ reorder_point: 10, lead_time_ms: 2 * DAY, source: 'file', updatedAt: 1_000 })
    clock.set(2_000)
    expect(master.syncFile(file())).toEqual({ written: 0, deleted: 0, apiKept: 0 })
    expect(master.get('A-1')?.updatedAt).toBe(1_000)
  })

  it('syncFile deletes file rows that left the file', () => {
    master.syncFile(file('  - { sku: A-3, reorder_point: 1, safety_stock: 0, lead_time: 1d }\n'))
    expect(master.syncFile(file())).toEqual({ written: 0, deleted: 1, apiKept: 0 })
    expect(master.list().map((r) => r.sku)).toEqual(['A-1', 'A-2'])
  })

  it('an API edit wins over the file, and survives a re-sync and a restart', () => {
    master.syncFile(file())
    clock.set(5_000)
    expect(master.put('A-1', { reorder_point: 40 })).toMatchObject({ sku: 'A-1', reorder_point: 40, safety_stock: 4, source: 'api', updatedAt: 5_000 })
    master.put('B-9', { reorder_point: 3, safety_stock: 0, lead_time: '4h' })
    db.close()
    db = new Database(join(dir, 'state.db'))
    master = new SkuMaster(db, clock)
    expect(master.syncFile(file())).toEqual({ written: 0, deleted: 0, apiKept: 1 })
    expect(master.get('A-1')).toMatchObject({ reorder_point: 40, source: 'api' })
    expect(master.get('B-9')).toMatchObject({ lead_time_ms: 4 * 3_600_000, source: 'api' })
  })

  it('put validates the merged entry with the file schema, naming each field', () => {
    master.syncFile(file())
    const refused = (sku: string, patch: Record<string, unknown>) => {
      try {
        master.put(sku, patch)
      } catch (err) {
        expect(err).toBeInstanceOf(StockyardError)
        expect((err as StockyardError).code).toBe('request.invalid')
        return (err as Error).message
      }
      throw new Error('expected put to be refused')
    }
    expect(refused('A-1', { safety_stock: 11 })).toBe(
      'SKU A-1: safety_stock: 11 must be at most reorder_point (10): you reorder at the reorder point, and safety stock is what is left while the order is on its way',
    )
    expect(refused('A-1', { lead_time: 'soon', pack_size: 0 })).toBe(
      'SKU A-1: lead_time: "soon" is not a duration (use 30s, 10m, 4h, 1d); pack_size: must be at least 1, got 0',
    )
    expect(refused('NEW-1', { reorder_point: 1 })).toBe(
      'SKU NEW-1: safety_stock: missing; expected a finite number; lead_time: missing; expected a duration (use 30s, 10m, 4h, 1d)',
    )
    expect(refused('A-1', { sku: 'A-2' })).toBe('sku: string "A-2" differs from the SKU being edited (A-1); leave sku out')
    expect(master.get('A-1')).toMatchObject({ safety_stock: 4, source: 'file' })
  })

  it('readers on another connection read the table alone, and nothing before it exists', () => {
    const reader = new Database(join(dir, 'state.db'), { readonly: true })
    expect(readSkus(reader)).toEqual([])
    master.syncFile(file())
    master.put('A-2', { bin: 'A-9-1' })
    expect(readSkus(reader)).toEqual(master.list())
    expect(readSkus(reader).map((r) => [r.sku, r.source, r.bin])).toEqual([
      ['A-1', 'file', undefined],
      ['A-2', 'api', 'A-9-1'],
    ])
    reader.close()
  })
})
