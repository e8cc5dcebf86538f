/**
 * `stockyard dashboards check | export --grafana OUT_DIR`: validate the dashboard definitions (every
 * error at once, each naming the file, the panel and the field), and write them as Grafana dashboards
 * plus provisioning YAML for the InfluxDB the gateway replicates to (the config's `influx` section).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../config/load.ts'
import { StockyardError } from '../core/errors.ts'
import { exportGrafana } from '../dashboards/grafana.ts'
import { loadDashboards } from '../dashboards/load.ts'
import type { Dashboard } from '../dashboards/schema.ts'
import { ROUTES } from '../http/index.ts'
import { parseFlags, printJson } from './args.ts'

const USAGE = 'usage: stockyard dashboards check [--dir DIR] | dashboards export --grafana OUT_DIR [--dir DIR] [--config FILE]'

/** The definitions of `dir`, or a refusal listing every error. */
function load(dir: string): Dashboard[] {
  const result = loadDashboards(dir, ROUTES)
  if (!result.ok) throw new StockyardError('request.invalid', `dashboard definitions refused:\n  ${result.errors.join('\n  ')}`, result.errors)
  return result.dashboards
}

/** Run `stockyard dashboards <sub> ...`; prints one JSON document. */
export function runDashboards(argv: string[]): void {
  const [sub, ...rest] = argv
  const { values } = parseFlags(rest, { dir: { type: 'string' }, grafana: { type: 'string' }, config: { type: 'string' } })
  const dir = values.dir ?? 'dashboards'
  if (sub === 'check') {
    if (values.grafana !== undefined || values.config !== undefined) throw new StockyardError('request.invalid', USAGE)
    return printJson({ ok: true, dashboards: load(dir).map((d) => d.id) })
  }
  if (sub !== 'export' || !values.grafana) throw new StockyardError('request.invalid', USAGE)
  const dashboards = load(dir)
  const { influx } = loadConfig({ file: values.config, env: process.env })
  const out = exportGrafana(dashboards, {
    protocol: influx.protocol,
    database: influx.database,
    bucket: influx.bucket,
    org: influx.org,
    measurements: influx.measurements,
  })
  const root = values.grafana
  const files: Array<[string, string]> = [
    [join(root, 'provisioning/datasources/stockyard-influxdb.yaml'), out.provisioning.datasource],
    [join(root, 'provisioning/dashboards/stockyard.yaml'), out.provisioning.provider],
    ...out.dashboards.map((d): [string, string] => [join(root, 'dashboards', d.file), d.json]),
  ]
  for (const [file, text] of files) {
    mkdirSync(join(file, '..'), { recursive: true })
    writeFileSync(file, text)
  }
  printJson({
    ok: true,
    protocol: influx.protocol,
    written: files.map(([f]) => f),
    dashboards: out.dashboards.map((d) => ({ file: d.file, uid: d.dashboard.uid, panels: d.dashboard.panels?.length ?? 0 })),
    skipped: out.skipped,
  })
}
