/** The InfluxDB writers against real servers, through the shared LineWriter contract. */
import { afterAll, beforeAll, describe } from 'vitest'
import { ConfigSchema } from '../gateway/config/schema.ts'
import { InfluxV1Writer } from '../gateway/sink/influx/v1.ts'
import { InfluxV2Writer } from '../gateway/sink/influx/v2.ts'
import { runLineWriterContract } from './contracts/line-writer.ts'
import { requireBinary, startInfluxd, startVictoriaMetrics, type Influxd, type VictoriaMetrics } from './helpers/influxd.ts'

function influxConfig(extra: Record<string, unknown>) {
  return ConfigSchema.parse({ influx: { enabled: true, ...extra } }).influx
}

describe.skipIf(!requireBinary('influxd'))('v1 writer against influxd 1.6', () => {
  let influx: Influxd
  beforeAll(async () => {
    influx = await startInfluxd()
  }, 40_000)
  afterAll(async () => {
    await influx?.dispose()
  })
  runLineWriterContract('InfluxV1Writer', () => ({
    writer: new InfluxV1Writer(influxConfig({ url: influx.url, database: 'contract' })),
    unreachable: new InfluxV1Writer(influxConfig({ url: `http://127.0.0.1:${influx.port + 1}`, timeoutMs: 2000 })),
    async readBack(measurement, field) {
      const res = await influx.query(`SELECT count("${field}"), sum("${field}") FROM "${measurement}"`, 'contract')
      const row = res[0]?.series?.[0]?.values[0]
      return { count: (row?.[1] as number) ?? 0, sum: (row?.[2] as number) ?? 0 }
    },
  }))
})

describe.skipIf(!requireBinary('victoria-metrics'))('v2 writer (@influxdata/influxdb-client) against VictoriaMetrics', () => {
  let vm: VictoriaMetrics
  beforeAll(async () => {
    // VictoriaMetrics keeps every sample unless told to deduplicate, as InfluxDB always does.
    vm = await startVictoriaMetrics({ args: ['-dedup.minScrapeInterval=1ms'] })
  }, 40_000)
  afterAll(async () => {
    await vm?.dispose()
  })
  runLineWriterContract('InfluxV2Writer', () => ({
    writer: new InfluxV2Writer(influxConfig({ protocol: 'v2', url: vm.url, org: 'acme', token: 't' })),
    unreachable: new InfluxV2Writer(influxConfig({ protocol: 'v2', url: `http://127.0.0.1:${vm.port + 1}`, org: 'acme', token: 't', timeoutMs: 2000 })),
    async readBack(measurement, field) {
      const series = await vm.exportSeries(`{__name__="${measurement}_${field}"}`)
      const values = series.flatMap((s) => s.values)
      return { count: values.length, sum: values.reduce((a, b) => a + b, 0) }
    },
  }))
})
