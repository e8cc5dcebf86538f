/** The influxd / victoria-metrics harness itself: real servers start, keep data across a restart, and go away. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireBinary, startInfluxd, startVictoriaMetrics, type Influxd, type VictoriaMetrics } from './helpers/influxd.ts'

async function pingStatus(url: string): Promise<number | 'refused'> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2000) })
    return res.status
  } catch {
    return 'refused'
  }
}

describe.skipIf(!requireBinary('influxd'))('influxd harness', () => {
  let influx: Influxd
  const t0 = Date.now() - 60_000

  beforeAll(async () => {
    influx = await startInfluxd()
  })
  afterAll(async () => {
    await influx?.dispose()
  })

  it('listens on 127.0.0.1 and answers /ping with 204', async () => {
    expect(influx.url).toBe(`http://127.0.0.1:${influx.port}`)
    expect(await pingStatus(influx.url)).toBe(204)
  })

  it('writes 3 lines to a new database and counts them back', async () => {
    await influx.query('CREATE DATABASE harness')
    const lines = [`env,zone=a temperature_c=4.1 ${t0}`, `env,zone=a temperature_c=4.3 ${t0 + 1000}`, `env,zone=b temperature_c=7.9 ${t0 + 2000}`]
    expect(await influx.write('harness', lines.join('\n'))).toEqual({ status: 204, body: '' })
    const [result] = await influx.query('SELECT count(temperature_c) FROM env', 'harness')
    expect(result?.series?.[0]?.values[0]?.[1]).toBe(3)
  })

  it('throws with the server error text for a bad statement', async () => {
    await expect(influx.query('SELECT * FROM env', 'no_such_db')).rejects.toThrow(/database not found/)
  })

  it('stops (ping fails) and starts again on the same port with the data still there', async () => {
    await influx.stop()
    expect(await pingStatus(influx.url)).toBe('refused')
    await influx.start()
    expect(await pingStatus(influx.url)).toBe(204)
    const [result] = await influx.query('SELECT count(temperature_c) FROM env', 'harness')
    expect(result?.series?.[0]?.values[0]?.[1]).toBe(3)
  })
})

describe.skipIf(!requireBinary('victoria-metrics'))('victoria-metrics harness', () => {
  let vm: VictoriaMetrics

  beforeAll(async () => {
    vm = await startVictoriaMetrics()
  })
  afterAll(async () => {
    await vm?.dispose()
  })

  it('accepts InfluxDB line protocol on /api/v2/write and exports every sample at once', async () => {
    const now = Date.now()
    const lines = [`env,zone=a temperature_c=4.1 ${now - 2000}`, `env,zone=a temperature_c=4.3 ${now - 1000}`, `env,zone=b temperature_c=7.9 ${now}`]
    const res = await fetch(`${vm.url}/api/v2/write?bucket=x&org=y&precision=ms`, { method: 'POST', body: lines.join('\n') })
    expect(res.status).toBe(204)
    const series = await vm.exportSeries('env_temperature_c')
    expect(series).toEqual([
      { metric: { __name__: 'env_temperature_c', zone: 'a' }, values: [4.1, 4.3], timestamps: [now - 2000, now - 1000] },
      { metric: { __name__: 'env_temperature_c', zone: 'b' }, values: [7.9], timestamps: [now] },
    ])
  })

  it('keeps samples far older than the default one-month retention', async () => {
    const old = Date.UTC(2001, 0, 1)
    await fetch(`${vm.url}/api/v2/write?bucket=x&org=y&precision=ms`, { method: 'POST', body: `old value=1 ${old}` })
    expect(await vm.exportSeries('old_value')).toEqual([{ metric: { __name__: 'old_value' }, values: [1], timestamps: [old] }])
  })
})
