/**
 * The Grafana export (`stockyard dashboards export --grafana`): the dashboard definitions of
 * `dashboards/*.json` as Grafana dashboards over the InfluxDB the gateway replicates to, plus the
 * provisioning YAML that loads them.
 *
 * What is exported: the panels whose data is in InfluxDB, i.e. `/api/v1/series` reads shown as a time
 * series or a stat, as InfluxQL (protocol v1) or Flux (v2) over the sink's measurements, in the same
 * place on the grid. Everything else (alerts, stock on hand, forecasts, the device list, analytics)
 * lives only in the gateway; such panels are listed in `skipped` with the reason and named in the
 * dashboard's description, and a page with no exportable panel gives no Grafana dashboard.
 *
 * Built with the Grafana Foundation SDK (`@grafana/grafana-foundation-sdk`, Apache-2.0), whose
 * builders and types are generated from Grafana's own schemas: it runs on Node 20 (CommonJS + tslib,
 * imported from ESM), type-checks under TS 5.9, and gives a typed `dashboard.Dashboard` rather than a
 * hand-typed object. `@grafana/schema` only has types, and neither package has an InfluxDB query
 * type, so the targets are typed here (`InfluxTarget`). The classic `DashboardBuilder` (schema v1) is
 * used on purpose: Grafana's file provisioning reads that JSON; the v2 resource needs its API.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog'
import * as common from '@grafana/grafana-foundation-sdk/common'
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as stat from '@grafana/grafana-foundation-sdk/stat'
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'
import { LineSchema } from '../sink/influx/lines.ts'
import { datasourceYaml, providerYaml } from './grafana-provisioning.ts'
import {
  flux,
  fluxTagValues,
  grafanaInterval,
  grafanaVariable,
  influxql,
  influxqlTagValues,
  relativeTime,
  seriesRead,
  TAG_KEYS,
  withGrafanaVariables,
  type SeriesRead,
} from './grafana-query.ts'
import { GRID_COLUMNS, type Dashboard, type Panel } from './schema.ts'

export interface GrafanaExportOptions {
  /** `influx.protocol`: v1 -> InfluxQL on `database`, v2 -> Flux on `bucket`. */
  protocol: 'v1' | 'v2'
  database: string
  bucket: string
  /** `influx.org` (v2); empty leaves it to Grafana's environment (`STOCKYARD_INFLUX_ORG`). */
  org?: string
  /** `influx.measurements`: metric -> measurement overrides, as the sink applies them. */
  measurements: Readonly<Record<string, string>>
  /** The data source's uid in Grafana (default `stockyard-influxdb`). */
  datasourceUid?: string
}

export interface SkippedPanel {
  dashboard: string
  panel: string
  reason: string
}

export interface GrafanaExport {
  /** One file per page with at least one exportable panel: `file` is `<id>.json`, `json` its text. */
  dashboards: Array<{ file: string; json: string; dashboard: dashboard.Dashboard }>
  provisioning: { datasource: string; provider: string }
  skipped: SkippedPanel[]
}

/** A target of Grafana's InfluxDB data source (its query model is not in a published package). */
export interface InfluxTarget extends common.DataQuery, cog.Dataquery {
  datasource: common.DataSourceRef
  query: string
  /** InfluxQL only: the query is raw text, not the visual editor's model. */
  rawQuery?: boolean
  resultFormat?: 'time_series' | 'table'
  alias?: string
}

export const DEFAULT_DATASOURCE_UID = 'stockyard-influxdb'
/** Grafana's grid has 24 columns; ours 12. */
const X_SCALE = 24 / GRID_COLUMNS
/** Rows: our UI's row is taller than Grafana's 30 px; edges are scaled (not sizes) so panels never overlap. */
const Y_SCALE = 1.5

/** Why a panel's data is not in InfluxDB, by the API route it reads. */
const NOT_IN_INFLUX: ReadonlyArray<[RegExp, string]> = [
  [/^\/api\/v1\/(alerts|silences)/, 'alerts and silences live in the gateway, not in InfluxDB'],
  [/^\/api\/v1\/(stock|skus)/, 'stock on hand is warehouse state kept by the gateway, not in InfluxDB'],
  [/^\/api\/v1\/forecast/, 'forecasts are computed by the gateway (analytics), not stored in InfluxDB'],
  [/^\/api\/v1\/analytics/, 'analytics results live in analytics.db on the gateway, not in InfluxDB'],
  [/^\/api\/v1\/devices/, 'the device list and online status are the device registry of the gateway, not in InfluxDB'],
  [/^\/api\/v1\/shipments/, 'shipment state is warehouse state kept by the gateway; InfluxDB has only the raw events'],
]

const COLORS: Readonly<Record<string, string>> = { green: 'green', yellow: 'yellow', orange: 'orange', red: 'red', blue: 'blue', grey: 'text' }
const UNITS: Readonly<Record<string, string>> = {
  '°C': 'celsius',
  '°F': 'fahrenheit',
  '%': 'percent',
  days: 'd',
  s: 's',
  ms: 'ms',
  kg: 'masskg',
  dBm: 'dBm',
  ppm: 'ppm',
}

/** Grafana's unit id for a definition's unit; anything else is shown as a suffix. */
export function grafanaUnit(unit: string): string {
  return UNITS[unit] ?? `suffix:${unit}`
}

/** A definition grid cell on Grafana's grid: x and w doubled, y and h scaled by their edges. */
export function gridPos(g: Panel['grid']): dashboard.GridPos {
  const top = Math.floor(g.y * Y_SCALE)
  return { x: g.x * X_SCALE, y: top, w: g.w * X_SCALE, h: Math.floor((g.y + g.h) * Y_SCALE) - top }
}

/** A builder of one InfluxDB target, for the SDK's panel builders. */
class InfluxTargetBuilder implements cog.Builder<cog.Dataquery> {
  constructor(private readonly target: Omit<InfluxTarget, '_implementsDataqueryVariant'>) {}
  build(): InfluxTarget {
    return { ...this.target, _implementsDataqueryVariant: () => undefined }
  }
}

/** The panel kinds that have a Grafana equivalent over InfluxDB. */
type SeriesPanel = Extract<Panel, { type: 'timeseries' | 'stat' }>

interface Exportable {
  panel: SeriesPanel
  read: SeriesRead
}

/** Whether a panel's query reads the page variable `name` (`$zone`, not `$zone2`). */
function usesVariable(p: Panel, name: string): boolean {
  return new RegExp(`\\$${name}(?![a-z0-9-])`).test(JSON.stringify(p.query))
}

/** The series read of a panel, or why it is not exported. */
function exportable(p: Panel): Exportable | string {
  if (p.query.path !== '/api/v1/series') {
    const known = NOT_IN_INFLUX.find(([re]) => re.test(p.query.path))
    return known ? known[1] : `${p.query.path} is not a series read; only /api/v1/series data is in InfluxDB`
  }
  if (p.type !== 'timeseries' && p.type !== 'stat') return `a ${p.type} panel has no Grafana equivalent over InfluxDB`
  if (p.type === 'stat' && 'count' in p.value) return 'a stat counting series has no InfluxDB equivalent; use value.field'
  const read = seriesRead(p.query.params)
  return 'problem' in read ? read.problem : { panel: p, read }
}

/**
 * Grafana dashboards and provisioning for validated definitions.
 * @example const out = exportGrafana(loaded.dashboards, { protocol: 'v1', database: 'stockyard', bucket: 'stockyard', measurements: {} })
 */
export function exportGrafana(definitions: readonly Dashboard[], opts: GrafanaExportOptions): GrafanaExport {
  const uid = opts.datasourceUid ?? DEFAULT_DATASOURCE_UID
  const schema = new LineSchema(opts.measurements)
  const skipped: SkippedPanel[] = []
  const dashboards: GrafanaExport['dashboards'] = []
  for (const def of definitions) {
    const panels: Exportable[] = []
    const skippedHere: SkippedPanel[] = []
    for (const p of def.panels) {
      const r = exportable(p)
      if (typeof r === 'string') skippedHere.push({ dashboard: def.id, panel: p.id, reason: r })
      else panels.push(r)
    }
    for (const v of def.variables) {
      if (TAG_KEYS.has(v.options.field)) continue
      // A variable that is no tag cannot be listed from InfluxDB: the panels that use it go too.
      for (const e of panels.filter(({ panel }) => usesVariable(panel, v.name))) {
        skippedHere.push({ dashboard: def.id, panel: e.panel.id, reason: `its variable $${v.name} lists ${v.options.field}, which is not an InfluxDB tag` })
        panels.splice(panels.indexOf(e), 1)
      }
    }
    skipped.push(...skippedHere)
    if (panels.length === 0) continue
    const built = buildDashboard(def, panels, skippedHere, schema, uid, opts)
    dashboards.push({ file: `${def.id}.json`, json: JSON.stringify(built, null, 2) + '\n', dashboard: built })
  }
  const datasource = datasourceYaml({ protocol: opts.protocol, database: opts.database, bucket: opts.bucket, org: opts.org ?? '', uid })
  return { dashboards, provisioning: { datasource, provider: providerYaml() }, skipped }
}

function buildDashboard(
  def: Dashboard,
  panels: Exportable[],
  skipped: SkippedPanel[],
  schema: LineSchema,
  uid: string,
  opts: GrafanaExportOptions,
): dashboard.Dashboard {
  const ds: common.DataSourceRef = { type: 'influxdb', uid }
  // The page's time range is its first panel's; a panel reading another range overrides it (timeFrom).
  const first = panels[0]!.panel.query.params
  const from = relativeTime(first.from) ?? 'now-1h'
  const to = relativeTime(first.to) ?? 'now'
  const notes = skipped.map((s) => `${def.panels.find((p) => p.id === s.panel)?.title ?? s.panel} (${s.reason})`)
  const description = [
    `Generated from dashboards/${def.id}.json by stockyard dashboards export --grafana; edit that file, not this one.`,
    ...(notes.length ? [`Not exported: ${notes.join('; ')}.`] : []),
  ].join(' ')
  const b = new dashboard.DashboardBuilder(`Stockyard / ${def.title}`)
    .uid(`stockyard-${def.id}`)
    .description(description)
    .tags(['stockyard'])
    .timezone('browser')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from, to })
    .refresh('30s')
    .link(
      new dashboard.DashboardLinkBuilder('Stockyard')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['stockyard'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
  const measurements = [...new Set(panels.map(({ read }) => schema.measurementOf(read.metric)))].sort()
  for (const v of def.variables.filter((x) => panels.some(({ panel }) => usesVariable(panel, x.name)))) {
    const query = opts.protocol === 'v2' ? fluxTagValues(v.options.field, measurements, opts.bucket) : influxqlTagValues(v.options.field, measurements)
    const all = v.default === '*'
    b.withVariable(
      new dashboard.QueryVariableBuilder(grafanaVariable(v.name))
        .label(v.label)
        .datasource(ds)
        .query(query)
        .definition(query)
        .refresh(dashboard.VariableRefresh.OnDashboardLoad)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .includeAll(true)
        .allValue('.*')
        .current(all ? { text: 'All', value: '$__all' } : { text: v.default, value: v.default }),
    )
  }
  panels.forEach(({ panel, read }, i) => {
    const p = panel.query.params
    const query = opts.protocol === 'v2' ? flux(read, schema, opts.bucket) : influxql(read, schema)
    const target = new InfluxTargetBuilder(
      opts.protocol === 'v2'
        ? { refId: 'A', datasource: ds, query }
        : { refId: 'A', datasource: ds, query, rawQuery: true, resultFormat: 'time_series', alias: '$tag_device' },
    )
    const pb = panel.type === 'stat' ? statPanel(panel) : timeseriesPanel()
    pb.id(i + 1)
      .title(withGrafanaVariables(panel.title))
      .datasource(ds)
      .gridPos(gridPos(panel.grid))
      .withTarget(target)
    if (panel.description) pb.description(withGrafanaVariables(panel.description))
    if (panel.unit) pb.unit(grafanaUnit(panel.unit))
    const interval = p.step === undefined ? undefined : grafanaInterval(p.step)
    if (interval) pb.interval(interval)
    const panelFrom = relativeTime(p.from) ?? 'now-1h'
    if (panelFrom !== from) pb.timeFrom(panelFrom.slice('now-'.length))
    b.withPanel(pb)
  })
  return b.build()
}

function timeseriesPanel(): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .lineWidth(1)
    .fillOpacity(10)
    .spanNulls(true)
}

function statPanel(panel: Extract<Panel, { type: 'stat' }>): stat.PanelBuilder {
  const steps: dashboard.Threshold[] = [
    { value: null, color: COLORS[panel.base] ?? 'green' },
    ...panel.thresholds.map((t) => ({ value: t.value, color: COLORS[t.color] ?? 'green' })),
  ]
  return new stat.PanelBuilder()
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps))
}
