/**
 * The hand-written Grafana dashboards in dashboards/grafana/extra/ (cold chain, stock, shipments):
 * views of the scan and shipment events in InfluxDB that the generated dashboards (from the
 * definitions, test/grafana-provisioning.test.ts) cannot express, because the definitions query the
 * HTTP API and it has no series of events. The files parse, every panel reads the Stockyard InfluxDB
 * data source, every query names only measurements, fields and tags of the InfluxDB schema, and every
 * query runs against a real influxd holding sample data in that schema and returns rows.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from './helpers/e2e.ts'
import { requireBinary, startInfluxd, type Influxd } from './helpers/influxd.ts'

const GRAFANA = join(REPO_ROOT, 'dashboards/grafana')
const UID = 'stockyard-influxdb'
const ZONE_QUERY = 'SHOW TAG VALUES FROM "environment" WITH KEY = "zone"'

/** The InfluxDB schema the gateway writes (gateway/sink/influx/lines.ts): fields and tags per measurement. */
const SCHEMA: Record<string, { fields: string[]; tags: string[] }> = {
  environment: { fields: ['temperature_c', 'humidity_pct'], tags: ['site', 'zone', 'device', 'sku'] },
  shelf: { fields: ['weight_kg', 'units'], tags: ['site', 'zone', 'device', 'sku'] },
  device: { fields: ['battery_pct', 'rssi_dbm', 'uptime_s'], tags: ['site', 'zone', 'device'] },
  scan: { fields: ['qty', 'location', 'ref', 'from'], tags: ['site', 'zone', 'device', 'sku', 'event'] },
  shipment: { fields: ['shipment_id', 'eta_ms', 'lat', 'lon', 'note'], tags: ['site', 'zone', 'device', 'status'] },
  device_status: { fields: ['state', 'battery_pct', 'rssi_dbm', 'uptime_s', 'firmware'], tags: ['site', 'zone', 'device'] },
}
/** Column names InfluxQL gives aggregates, which an outer query over a subquery reads. */
const AGGREGATE_COLUMNS = ['last', 'max', 'mean', 'sum', 'count', 'min']

interface Target {
  refId: string
  datasource?: { type?: string; uid?: string }
  query?: string
  rawQuery?: boolean
  resultFormat?: string
}
interface Panel {
  id: number
  type: string
  title: string
  datasource?: { type?: string; uid?: string }
  targets?: Target[]
}
interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Array<{ name: string; type: string; query: string; datasource?: { uid?: string } }> }
}

const dashboardFiles = readdirSync(join(GRAFANA, 'extra')).filter((f) => f.endsWith('.json'))
const dashboards = dashboardFiles.map((f) => ({ file: f, dash: JSON.parse(readFileSync(join(GRAFANA, 'extra', f), 'utf8')) as Dashboard }))
const queries = dashboards.flatMap(({ file, dash }) =>
  dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${file} › ${p.title} › ${t.refId}`, query: t.query ?? '' }))),
)

/** The query as Grafana would send it with the last hour selected, an interval of 1m and every zone. */
function expandMacros(query: string): string {
  const subst: Array<[string, string]> = [
    ['/^$zone$/', '/^.*$/'],
    ['$timeFilter', 'time > now() - 1h'],
    ['$__interval', '1m'],
    ['$zone', '.*'],
  ]
  return subst.reduce((q, [from, to]) => q.split(from).join(to), query)
}

describe('hand-written Grafana dashboards (extra/)', () => {
  it('has the cold chain, stock and shipments dashboards, each with a unique uid and schemaVersion 39', () => {
    expect(dashboardFiles.sort()).toEqual(['cold-chain.json', 'shipments.json', 'stock.json'])
    expect(new Set(dashboards.map((d) => d.dash.uid)).size).toBe(dashboards.length)
    for (const { dash } of dashboards) expect(dash.schemaVersion).toBe(39)
  })

  it.each(dashboards)("$file: a zone variable from the environment measurement's zone tag", ({ dash }) => {
    const zone = dash.templating.list.find((v) => v.name === 'zone')
    expect(zone).toMatchObject({ type: 'query', query: ZONE_QUERY, datasource: { uid: UID } })
  })

  it.each(dashboards)('$file: every panel is a timeseries, stat or table on the Stockyard data source with raw InfluxQL targets', ({ dash }) => {
    expect(dash.panels.length).toBeGreaterThan(0)
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length)
    for (const panel of dash.panels) {
      expect(['timeseries', 'stat', 'table'], panel.title).toContain(panel.type)
      expect(panel.datasource?.uid, panel.title).toBe(UID)
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const t of panel.targets ?? []) {
        expect(t.datasource?.uid ?? UID, panel.title).toBe(UID)
        expect(t.rawQuery, panel.title).toBe(true)
        expect(t.query, panel.title).toMatch(/^SELECT /)
        expect(t.query, panel.title).toContain('$timeFilter')
        expect(t.query, panel.title).toContain('"zone" =~ /^$zone$/')
        if (panel.type === 'table') expect(t.resultFormat, panel.title).toBe('table')
      }
    }
  })

  it.each(queries)('$where names only measurements, fields and tags of the schema', ({ query }) => {
    const measurements = [...query.matchAll(/FROM "([^"]+)"/g)].map((m) => m[1]!)
    expect(measurements.length).toBeGreaterThan(0)
    const allowed = new Set([...measurements, ...AGGREGATE_COLUMNS])
    for (const m of measurements) {
      expect(Object.keys(SCHEMA)).toContain(m)
      for (const name of [...SCHEMA[m]!.fields, ...SCHEMA[m]!.tags]) allowed.add(name)
    }
    for (const [, ident] of query.matchAll(/"([^"]+)"/g)) expect([...allowed], `"${ident}" in ${query}`).toContain(ident)
  })
})

describe.skipIf(!requireBinary('influxd'))('Grafana dashboard queries against InfluxDB 1.x', () => {
  let influx: Influxd

  beforeAll(async () => {
    influx = await startInfluxd()
    await influx.query('CREATE DATABASE stockyard')
    const now = Date.now()
    const at = (minutesAgo: number): number => now - minutesAgo * 60_000
    // As the gateway writes them: floats only, one metric per line, ms timestamps, empty tags left out.
    const lines = [
      `environment,device=env-1,site=test,zone=cold-1 temperature_c=4.2 ${at(40)}`,
      `environment,device=env-1,site=test,zone=cold-1 humidity_pct=61 ${at(40)}`,
      `environment,device=env-1,site=test,zone=cold-1 temperature_c=9.1 ${at(5)}`,
      `environment,device=env-2,site=test,zone=cold-1 temperature_c=3.8 ${at(5)}`,
      `environment,device=env-3,site=test,zone=dry\\ store temperature_c=17.5 ${at(10)}`,
      `environment,device=env-3,site=test,zone=dry\\ store humidity_pct=40 ${at(10)}`,
      `shelf,device=shelf-1,site=test,sku=SKU-1,zone=cold-1 units=24 ${at(30)}`,
      `shelf,device=shelf-1,site=test,sku=SKU-1,zone=cold-1 weight_kg=12.5 ${at(30)}`,
      `shelf,device=shelf-2,site=test,sku=SKU-2,zone=dry\\ store units=10 ${at(20)}`,
      `shelf,device=shelf-2,site=test,sku=SKU-2,zone=dry\\ store weight_kg=3.1 ${at(20)}`,
      `device,device=env-1,site=test,zone=cold-1 battery_pct=88 ${at(15)}`,
      `device,device=env-1,site=test,zone=cold-1 rssi_dbm=-61 ${at(15)}`,
      `device,device=env-1,site=test,zone=cold-1 uptime_s=3600 ${at(15)}`,
      `scan,device=scan-1,event=receive,site=test,sku=SKU-1,zone=cold-1 qty=30,location="DOCK-1",from="supplier-9" ${at(50)}`,
      `scan,device=scan-1,event=pick,site=test,sku=SKU-1,zone=cold-1 qty=2,location="A-01-1",ref="order-17" ${at(25)}`,
      `scan,device=scan-1,event=pick,site=test,sku=SKU-2,zone=dry\\ store qty=1,location="B-02-3" ${at(12)}`,
      `scan,device=scan-1,event=adjust,site=test,sku=SKU-1,zone=cold-1 qty=-1,location="A-01-1",ref="cycle count 7" ${at(8)}`,
      `shipment,device=gate-1,site=test,status=released,zone=dry\\ store shipment_id="SH-1",eta_ms=${at(-120)} ${at(45)}`,
      `shipment,device=gate-1,site=test,status=departed,zone=dry\\ store shipment_id="SH-1",lat=52.1,lon=4.3 ${at(30)}`,
      `shipment,device=gate-1,site=test,status=exception,zone=dry\\ store shipment_id="SH-2",note="pallet damaged, rewrap" ${at(6)}`,
      `device_status,device=env-1,site=test,zone=cold-1 state="online",battery_pct=88,rssi_dbm=-61,uptime_s=3600,firmware="1.4.2" ${at(15)}`,
    ]
    const res = await influx.write('stockyard', lines.join('\n'))
    expect(res).toEqual({ status: 204, body: '' })
  })
  afterAll(async () => {
    await influx?.dispose()
  })

  it('the zone variable query lists every zone', async () => {
    const [result] = await influx.query(ZONE_QUERY, 'stockyard')
    expect(result?.series?.[0]?.values.map((v) => v[1]).sort()).toEqual(['cold-1', 'dry store'])
  })

  it.each(queries)('$where runs and returns rows', async ({ query }) => {
    const expanded = expandMacros(query)
    expect(expanded, 'a Grafana variable left over').not.toMatch(/\$[\w{]/)
    const results = await influx.query(expanded, 'stockyard')
    const rows = results.flatMap((r) => r.series ?? []).reduce((n, s) => n + s.values.length, 0)
    expect(rows, expanded).toBeGreaterThan(0)
  })

  it('the current max temperature per zone is the warmest latest reading, over the 8 °C threshold in cold-1', async () => {
    const q = queries.find((x) => x.where.includes('Current max temperature'))!
    const [result] = await influx.query(expandMacros(q.query), 'stockyard')
    const byZone = Object.fromEntries((result?.series ?? []).map((s) => [s.tags?.zone, s.values[0]?.[1]]))
    expect(byZone).toEqual({ 'cold-1': 9.1, 'dry store': 17.5 })
  })

  it('picks per SKU sum the qty of pick scans only', async () => {
    const q = queries.find((x) => x.where.includes('Picks per SKU'))!
    const [result] = await influx.query(expandMacros(q.query), 'stockyard')
    const bySku = Object.fromEntries((result?.series ?? []).map((s) => [s.tags?.sku, s.values.reduce((n, v) => n + Number(v[1]), 0)]))
    expect(bySku).toEqual({ 'SKU-1': 2, 'SKU-2': 1 })
  })

  it('the exceptions table lists the shipment id and note of exceptions only', async () => {
    const q = queries.find((x) => x.where.includes('shipments.json › Exceptions') && x.query.includes('"note"'))!
    const [result] = await influx.query(expandMacros(q.query), 'stockyard')
    const s = result?.series?.[0]
    expect(s?.columns).toEqual(['time', 'shipment_id', 'note', 'zone', 'device'])
    expect(s?.values.map((v) => v.slice(1, 3))).toEqual([['SH-2', 'pallet damaged, rewrap']])
  })
})
