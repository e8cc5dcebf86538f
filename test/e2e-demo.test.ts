/**
 * `npm start` (`stockyard demo`) as a user runs it, in a child process: the gateway comes up with the
 * simulated warehouse of simulators/scenarios/small.yaml feeding it in real time over MQTT, prints
 * how to reach it, forecasts its SKUs from seeded demand history, and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { afterAll, expect, it } from 'vitest'
import { tempDir } from './helpers/gateway.ts'

const BIN = new URL('../bin/stockyard.mjs', import.meta.url).pathname
const dir = tempDir('stockyard-demo-')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

it('npm start: devices connect, stock and readings arrive, SKUs are forecast, SIGTERM stops it with exit 0', async () => {
  const child = spawn(
    process.execPath,
    [BIN, 'demo', '--data', dir, '--host', '127.0.0.1', '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0', '--log-level', 'error'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  try {
    const lines = createInterface({ input: child.stdout })
    const banner = await new Promise<{ api: string; viewerToken: string; devices: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no banner within 20 s')), 20_000)
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { msg?: string }
        if (msg.msg === 'stockyard demo running') {
          clearTimeout(timer)
          resolve(msg as { api: string; viewerToken: string; devices: number })
        }
      })
    })
    const base = banner.api.replace('/api/v1/devices', '')
    const get = async (path: string): Promise<any> => {
      const res = await fetch(base + path, { headers: { authorization: `Bearer ${banner.viewerToken}` } })
      expect(res.status).toBe(200)
      return res.json()
    }
    expect(banner.devices).toBeGreaterThan(5)
    const online = await poll(
      'every device online',
      async () => {
        const { devices } = (await get('/api/v1/devices')) as { devices: Array<{ status: string }> }
        const n = devices.filter((d) => d.status === 'online').length
        return n === banner.devices ? n : undefined
      },
      20_000,
    )
    expect(online).toBe(banner.devices)
    const stock = await poll(
      'stock from the opening receipts',
      async () => {
        const { stock } = (await get('/api/v1/stock')) as { stock: Array<{ sku: string; total: number }> }
        return stock.filter((s) => s.total > 0).length >= 4 ? stock : undefined
      },
      20_000,
    )
    expect(stock.map((s) => s.sku)).toEqual(expect.arrayContaining(['SKU-0001', 'SKU-0002', 'SKU-0003', 'SKU-0004']))
    const temps = await poll(
      'temperature readings',
      async () => {
        const { series } = (await get('/api/v1/series?metric=temperature_c')) as { series: Array<{ points: unknown[] }> }
        return series.length >= 3 && series.every((s) => s.points.length > 0) ? series : undefined
      },
      30_000,
    )
    expect(temps.length).toBe(3)
    // The demo seeds weeks of simulated demand history, so its SKUs are forecast from the start.
    const forecast = await poll(
      'a forecast for SKU-0001',
      async () => {
        const res = await fetch(base + '/api/v1/forecast/SKU-0001', { headers: { authorization: `Bearer ${banner.viewerToken}` } })
        return res.status === 200 ? ((await res.json()) as { method: string; forecast: { mean: number[] } }) : undefined
      },
      30_000,
    )
    expect(forecast.forecast.mean).toHaveLength(28)
  } finally {
    child.kill('SIGTERM')
  }
  const [code] = (await once(child, 'exit')) as [number | null]
  expect(code).toBe(0)
}, 90_000)
