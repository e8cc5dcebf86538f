/**
 * The dashboard definition language: the shipped pages load and every query names a real GET route;
 * a malformed definition is refused with every problem named by file, panel and field.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadDashboards } from '../gateway/dashboards/load.ts'
import { ROUTES } from '../gateway/http/index.ts'
import { REPO_ROOT } from './helpers/e2e.ts'
import { tempDir } from './helpers/gateway.ts'

let dir: string
beforeEach(() => {
  dir = tempDir('stockyard-dashboards-')
  mkdirSync(dir, { recursive: true })
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const page = (panels: unknown[], extra: Record<string, unknown> = {}) => ({ version: 1, id: 'p', title: 'P', panels, ...extra })
const stat = (over: Record<string, unknown> = {}) => ({
  id: 'a',
  type: 'stat',
  title: 'A',
  grid: { x: 0, y: 0, w: 3, h: 2 },
  query: { path: '/api/v1/alerts' },
  value: { count: 'alerts' },
  ...over,
})

function errorsOf(def: unknown, file = 'p.json'): string[] {
  writeFileSync(join(dir, file), typeof def === 'string' ? def : JSON.stringify(def))
  const r = loadDashboards(dir, ROUTES)
  return r.ok ? [] : r.errors.map((e) => e.replace(`${dir}/`, ''))
}

describe('dashboard definitions', () => {
  it('the shipped pages load, in their order, every panel on a real route', () => {
    const r = loadDashboards(join(REPO_ROOT, 'dashboards'), ROUTES)
    if (!r.ok) throw new Error(r.errors.join('\n'))
    expect(r.dashboards.map((d) => d.id)).toEqual(['overview', 'stock', 'shipments', 'environment', 'alerts', 'devices'])
    const types = new Set(r.dashboards.flatMap((d) => d.panels.map((p) => p.type)))
    expect([...types].sort()).toEqual(['alertlist', 'forecast', 'stat', 'stockbar', 'table', 'timeline', 'timeseries'])
  })

  it('a valid page loads with its defaults filled in', () => {
    writeFileSync(join(dir, 'p.json'), JSON.stringify(page([stat()])))
    const r = loadDashboards(dir, ROUTES)
    expect(r.ok && r.dashboards[0]).toMatchObject({ id: 'p', order: 100, variables: [], panels: [{ base: 'green', thresholds: [], query: { params: {} } }] })
  })

  it.each([
    ['not JSON', '{"version": 1,', /p\.json: not JSON/],
    [
      'an unknown panel type',
      page([stat({ type: 'pie' })]),
      /p\.json: panels\[0\] \(a\)\.type: unknown panel type "pie"; types are timeseries, stat, table, alertlist, stockbar, timeline, forecast/,
    ],
    [
      'a route the API does not have',
      page([stat({ query: { path: '/api/v1/stok' } })]),
      /panels\[0\] \(a\)\.query\.path: \/api\/v1\/stok matches no GET route/,
    ],
    ['an admin-only route', page([stat({ query: { path: '/api/v1/rules' } })]), /\/api\/v1\/rules matches no GET route of the API that a viewer may call/],
    ['a panel wider than the grid', page([stat({ grid: { x: 10, y: 0, w: 4, h: 2 } })]), /panels\[0\] \(a\)\.grid: x \+ w must be at most 12/],
    ['overlapping panels', page([stat(), stat({ id: 'b', grid: { x: 2, y: 1, w: 3, h: 2 } })]), /panels\[1\] \(b\)\.grid: overlaps panel a/],
    ['a repeated panel id', page([stat(), stat({ grid: { x: 4, y: 0, w: 3, h: 2 } })]), /panels\[1\] \(a\)\.id: a is used by another panel/],
    ['an undefined variable', page([stat({ query: { path: '/api/v1/forecast/$sku' } })]), /\$sku is not a variable of this page/],
    ['an unknown key', page([stat({ colour: 'red' })]), /panels\[0\] \(a\): unknown key/],
    ['an id that is not the file name', { ...page([stat()]), id: 'q' }, /p\.json: id: q must match the file name \(q\.json\)/],
  ])('refuses %s, naming file, panel and field', (_what, def, message) => {
    const errors = errorsOf(def)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.join('\n')).toMatch(message)
  })

  it('names a wrong route also when other fields of the file are wrong', () => {
    const errors = errorsOf(page([stat({ type: 'pie' }), stat({ id: 'b', grid: { x: 4, y: 0, w: 3, h: 2 }, query: { path: '/api/v1/nope' } })]))
    expect(errors.join('\n')).toMatch(/panels\[0\] \(a\)\.type: unknown panel type/)
    expect(errors.join('\n')).toMatch(/panels\[1\] \(b\)\.query\.path: \/api\/v1\/nope matches no GET route/)
  })

  it('lists every problem of every file at once', () => {
    writeFileSync(join(dir, 'one.json'), JSON.stringify({ ...page([stat({ type: 'pie' })]), id: 'one' }))
    writeFileSync(join(dir, 'two.json'), JSON.stringify({ ...page([stat({ query: { path: '/api/v1/nope' } })]), id: 'two' }))
    const r = loadDashboards(dir, ROUTES)
    expect(r.ok).toBe(false)
    expect(!r.ok && r.errors.map((e) => e.slice(dir.length + 1, dir.length + 9))).toEqual(['one.json', 'two.json'])
  })

  it('a missing directory is no dashboards', () => {
    expect(loadDashboards(join(dir, 'none'), ROUTES)).toEqual({ ok: true, dashboards: [] })
  })
})
