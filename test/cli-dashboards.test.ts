/**
 * `stockyard dashboards check`, run as a real child process: the shipped definitions pass, and a
 * malformed definition is refused with exit 2 and a message naming the file, the panel and the field,
 * every error at once.
 */
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { REPO_ROOT } from './helpers/e2e.ts'
import { tempDir } from './helpers/gateway.ts'
import { runCli } from './helpers/proc-stockyard.ts'

const DEFINITIONS = join(REPO_ROOT, 'dashboards')

describe('stockyard dashboards check', () => {
  let dir: string
  beforeEach(() => {
    dir = tempDir('stockyard-dashboards-')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  /** dashboards/environment.json, edited, as the only definition in `dir`. */
  function environmentWith(edit: (d: { panels: Array<Record<string, unknown>> }) => void): string {
    const d = JSON.parse(readFileSync(join(DEFINITIONS, 'environment.json'), 'utf8')) as { panels: Array<Record<string, unknown>> }
    edit(d)
    const file = join(dir, 'environment.json')
    writeFileSync(file, JSON.stringify(d, null, 2))
    return file
  }

  it('accepts the shipped definitions and prints their ids', async () => {
    const r = await runCli(['dashboards', 'check'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { ok: boolean; dashboards: string[] }
    expect(out.ok).toBe(true)
    expect(out.dashboards).toEqual(expect.arrayContaining(['overview', 'environment']))
  })

  it('refuses a panel whose unit is not text with exit 2, naming the file, the panel and the field', async () => {
    const file = environmentWith((d) => (d.panels[1]!.unit = 42))
    const r = await runCli(['dashboards', 'check', '--dir', dir])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^error request\.invalid: dashboard definitions refused:/)
    expect(r.stderr).toContain(`${file}: panels[1] (humidity).unit:`)
  })

  it('refuses a query path that is no GET route of the API, naming the panel and query.path', async () => {
    const file = environmentWith((d) => ((d.panels[0]!.query as { path: string }).path = '/api/v1/seriez'))
    const r = await runCli(['dashboards', 'check', '--dir', dir])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${file}: panels[0] (temperature).query.path: /api/v1/seriez matches no GET route`)
  })

  it('lists every error of every file at once, and an unreadable file as not JSON', async () => {
    copyFileSync(join(DEFINITIONS, 'overview.json'), join(dir, 'overview.json'))
    const env = environmentWith((d) => {
      d.panels[0]!.grid = { x: 8, y: 0, w: 6, h: 6 }
      d.panels[1]!.type = 'piechart'
    })
    writeFileSync(join(dir, 'stock.json'), '{"version": 1,')
    const r = await runCli(['dashboards', 'check', '--dir', dir])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${env}: panels[0] (temperature).grid:`)
    expect(r.stderr).toContain(`${env}: panels[1] (humidity).type:`)
    expect(r.stderr).toContain(`${join(dir, 'stock.json')}: not JSON`)
    expect(r.stderr).not.toContain('overview.json')
  })

  it('export refuses the same definitions, writing nothing', async () => {
    environmentWith((d) => (d.panels[1]!.unit = 42))
    const out = join(dir, 'grafana')
    const r = await runCli(['dashboards', 'export', '--grafana', out, '--dir', dir])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('panels[1] (humidity).unit:')
    expect(() => readFileSync(join(out, 'provisioning/dashboards/stockyard.yaml'))).toThrow()
  })
})
