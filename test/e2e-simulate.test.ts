/**
 * The warehouse simulator against a real gateway: `stockyard simulate` starts a gateway on simulated
 * time, plays a day of scenario day.yaml at 1,800 x through real MQTT clients (one per device, with
 * their own credentials), then --check compares the gateway's HTTP API and /metrics with the ground
 * truth. The report is printed in the test output. 1,800 x, not 3,600 x: the rules run on the ingest
 * worker's clock while the devices publish from this thread, and at 3,600 x the 15 simulated minutes of
 * `sim-device-dead` are 250 ms, so a stall of this thread on a loaded box (another suite's Chromium)
 * read as dead devices; at 1,800 x it takes a 500 ms stall.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { renderReport } from '../simulators/check.ts'
import { dailyShape, WarehouseModel, type TruthRecord } from '../simulators/model.ts'
import { runSimulate, startOf } from '../simulators/run.ts'
import { ReplayModel } from '../simulators/replay.ts'
import { loadScenario, parseScenario } from '../simulators/scenario.ts'
import { readStock } from '../gateway/state/stock.ts'
import { openSqliteStore } from '../gateway/store/sqlite/index.ts'
import { startTestGateway, tempDir } from './helpers/gateway.ts'

const DAY_YAML = new URL('../simulators/scenarios/day.yaml', import.meta.url).pathname
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** The ground truth of a run of the model alone (no gateway, no clock), as NDJSON. */
function offlineTruth(seed: number): string {
  const scenario = loadScenario(DAY_YAML)
  const lines: string[] = []
  const model = new WarehouseModel(scenario, seed, startOf(scenario, 0, false), (r: TruthRecord) => lines.push(JSON.stringify(r)))
  // Uneven steps on purpose: how time is handed to the model must not change what happens.
  for (let i = 1; !model.done; i++) model.advance(model.now + ((i * 7919) % 5_000_000))
  return lines.join('\n') + '\n'
}

describe('stockyard simulate --check', () => {
  it('one simulated day at 1,800 x with every fault on: stock exact, every fault counted, every incident alerted, no false alerts', async () => {
    const dir = tempDir('stockyard-sim-test-')
    dirs.push(dir)
    const { report, drive, truthFile } = await runSimulate(['--scenario', DAY_YAML, '--accelerate', '1800', '--seed', '7', '--check', '--quiet', '--data', dir])
    console.log(`simulate day.yaml, seed 7, 1,800 x: ${drive.published} publishes, ${drive.acked} acked\n${renderReport(report!)}`)
    expect(drive.failed).toBe(0)
    expect(drive.acked).toBe(drive.published)
    expect(report!.stock.length).toBe(4)
    for (const s of report!.stock) expect(s, s.sku).toMatchObject({ error: 0, gateway: s.truth })
    for (const f of report!.faults) {
      expect(f.injected, f.kind).toBeGreaterThan(0)
      if (f.expect !== null) expect(f.counted, f.kind).toBe(f.injected)
    }
    expect(report!.incidents.map((i) => i.kind).sort()).toEqual(['device_death', 'excursion', 'late_shipment', 'stockout'])
    for (const i of report!.incidents) {
      expect(i.incidents, i.kind).toBeGreaterThan(0)
      expect(i, i.kind).toMatchObject({ alerted: i.incidents, missed: 0, false: 0 })
    }
    expect(report!.ok).toBe(true)
    // The truth written during the real run is the model's own: the gateway and the clock change nothing in it.
    expect(readFileSync(truthFile, 'utf8')).toBe(offlineTruth(7))
  }, 120_000)
})

describe('stockyard simulate --mqtt (a gateway that is already running, real time)', () => {
  it('registers its devices in the running gateway, plays 10 s of a scenario into it, and the check agrees', async () => {
    const gw = await startTestGateway()
    try {
      const dir = tempDir('stockyard-sim-ext-')
      dirs.push(dir)
      const file = join(dir, 'tiny.yaml')
      writeFileSync(
        file,
        [
          'name: tiny',
          'duration: 10s',
          'step: 1s',
          'zones: [{ id: cold-1, kind: cold, setpoint: 4 }, { id: dock-1, kind: dock, setpoint: 12 }]',
          'skus:',
          '  - { sku: SKU-1, bin: A-1, unitWeightKg: 1, initial: 50, reorderPoint: 5, orderQty: 10, leadTime: 1h, demand: { perDay: 400000, hours: [0, 24] }, scale: true }',
          'devices: { envEvery: 1s, scaleEvery: 2s, heartbeatEvery: 5s }',
        ].join('\n'),
      )
      const { report, drive } = await runSimulate([
        ...['--scenario', file, '--check', '--quiet', '--data', gw.dataDir, '--site', gw.config.site],
        ...['--mqtt', `mqtt://127.0.0.1:${gw.ports.mqtt}`, '--api', gw.url(''), '--token', gw.token('viewer'), '--truth', join(dir, 'truth.ndjson')],
      ])
      expect(drive.failed).toBe(0)
      expect(drive.acked).toBe(drive.published)
      expect(drive.published).toBeGreaterThan(15)
      expect(gw.store.devices.get('scale-sku-1')).toMatchObject({ kind: 'scale', site: gw.config.site })
      // Picks happened (400,000 a day is ~46 a second): the stock moved, and the gateway agrees to the unit.
      expect(report!.stock).toEqual([expect.objectContaining({ sku: 'SKU-1', error: 0 })])
      expect(report!.stock[0]!.truth).toBeLessThan(50)
      expect(report!.ok).toBe(true)
    } finally {
      await gw.dispose()
    }
  }, 60_000)
})

describe('ground truth', () => {
  it('the same seed gives byte-identical truth; another seed another day', () => {
    const a = offlineTruth(7)
    expect(offlineTruth(7)).toBe(a)
    expect(offlineTruth(8)).not.toBe(a)
    const end = JSON.parse(a.trim().split('\n').at(-1)!) as Extract<TruthRecord, { type: 'end' }>
    expect(end.type).toBe('end')
    expect(Object.keys(end.stock)).toEqual(['SKU-0001', 'SKU-0002', 'SKU-0003', 'SKU-0004'])
  })

  it('spreads a day of demand over the working hours, peaking mid-shift', () => {
    const shape = dailyShape([6, 22])
    expect(shape.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
    expect(shape.slice(0, 6).concat(shape.slice(22))).toEqual(Array(8).fill(0))
    expect(Math.max(...shape)).toBeCloseTo(shape[13]!, 12)
    expect(shape[6]!).toBeLessThan(shape[10]!)
    expect(shape[13]! / (1 / 16)).toBeCloseTo(Math.PI / 2, 1)
  })

  it('keeps stock whole: the stock records fold to the end stock, and no bin ever goes below zero', () => {
    const records = offlineTruth(11)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TruthRecord)
    const onHand = new Map<string, number>()
    for (const r of records) {
      if (r.type !== 'stock') continue
      expect(r.onHand, `${r.sku} at ${r.location}`).toBeGreaterThanOrEqual(0)
      onHand.set(`${r.sku}|${r.location}`, r.onHand)
    }
    const end = records.at(-1) as Extract<TruthRecord, { type: 'end' }>
    for (const [sku, locations] of Object.entries(end.stock)) for (const [loc, n] of Object.entries(locations)) expect(onHand.get(`${sku}|${loc}`)).toBe(n)
    // Demand outran the shelf at least once (the supplier delay): picks failed and were recorded.
    expect(records.some((r) => r.type === 'pick_failed')).toBe(true)
  })
})

describe('scenario files and flags', () => {
  it('refuses a bad scenario with every problem, naming the file and the path', () => {
    const text = readFileSync(DAY_YAML, 'utf8').replace('duration: 1d', 'duration: forever').replace('orderQty: 96', 'orderQty: -1')
    expect(() => parseScenario(text, 'bad.yaml')).toThrow(/bad\.yaml: scenario refused:[\s\S]*duration[\s\S]*skus\.0\.orderQty/)
    expect(() =>
      parseScenario(
        text.replace('duration: forever', 'duration: 1d').replace('orderQty: -1', 'orderQty: 96').replace('zone: cold-1, at', 'zone: cold-9, at'),
        'b.yaml',
      ),
    ).toThrow('b.yaml: scenario refused:\n  incidents.compressorFailures: no zone cold-9')
    expect(() => parseScenario(readFileSync(DAY_YAML, 'utf8').replace('device: scale-sku-0002', 'device: scale-9'), 'c.yaml')).toThrow(
      /c\.yaml: scenario refused:\n {2}incidents\.batteryDeaths: no device scale-9; the scenario's devices are env-cold-1, /,
    )
  })

  it('refuses --accelerate against a gateway that runs on real time', async () => {
    const dir = tempDir('stockyard-sim-flags-')
    dirs.push(dir)
    await expect(runSimulate(['--scenario', DAY_YAML, '--accelerate', '60', '--mqtt', 'mqtt://127.0.0.1:1', '--data', dir])).rejects.toThrow(
      /--accelerate needs the simulator to start its own gateway/,
    )
  })
})

describe('stockyard simulate --replay', () => {
  // Columns in any order; two metrics of one device and time become one message.
  const CSV = [
    'kind,ts,device,zone,metric,value,sku,event,qty,location,ref,from,shipment,status',
    'reading,2025-03-03T08:00:00Z,env-7,cold-1,temperature_c,4.5,,,,,,,,',
    'reading,2025-03-03T08:00:00Z,env-7,cold-1,humidity_pct,61,,,,,,,,',
    'scan,2025-03-03T08:01:00Z,scan-7,dock,,,SKU-9,receive,24,DOCK-1,,,,',
    'scan,2025-03-03T08:20:00Z,scan-7,dock,,,SKU-9,putaway,24,B-1,,DOCK-1,,',
    'reading,2025-03-03T08:30:00Z,scale-7,ambient,weight_kg,11.5,SKU-9,,,,,,,',
    'scan,2025-03-03T09:00:00Z,scan-7,dock,,,SKU-9,pick,5,B-1,SO-1,,,',
    'shipment,2025-03-03T09:05:00Z,trk-7,dock,,,,,,,,,SH-7,released',
    'reading,1741000000000,env-7,cold-1,temperature_c,4.7,,,,,,,,',
  ].join('\n')

  it('publishes a recording as its devices would have, paced by its times; replaying it again stores nothing twice', async () => {
    const dir = tempDir('stockyard-replay-')
    dirs.push(dir)
    const file = join(dir, 'history.csv')
    writeFileSync(file, CSV)
    for (let round = 1; round <= 2; round++) {
      const { drive } = await runSimulate(['--replay', file, '--accelerate', '3600', '--data', dir, '--quiet'])
      expect(drive, `round ${round}`).toMatchObject({ published: 7, acked: 7, failed: 0 })
    }
    const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
    try {
      expect(store.series.countEvents({ kind: 'scan' })).toBe(3)
      expect(store.series.countEvents({ kind: 'shipment' })).toBe(1)
      expect(store.series.countPoints({ metric: 'temperature_c', from: 0, to: Date.UTC(2026, 0, 1) })).toBe(2)
      expect(store.series.countPoints({ metric: 'humidity_pct', from: 0, to: Date.UTC(2026, 0, 1) })).toBe(1)
      expect(readStock(store.db, { sku: 'SKU-9' }).map((r) => [r.location, r.onHand])).toEqual([
        ['B-1', 19],
        ['DOCK-1', 0],
      ])
      expect(store.devices.get('scale-7')).toMatchObject({ kind: 'scale', zone: 'ambient' })
      expect(store.devices.get('trk-7')).toMatchObject({ kind: 'tracker' })
    } finally {
      store.close()
    }
  }, 60_000)

  it('refuses a bad recording with every bad row, naming line and column, and publishes nothing', () => {
    const bad = CSV.replace('temperature_c,4.5', 'temperature_c,warm').replace('2025-03-03T08:01:00Z', 'yesterday').replace('kind,ts', 'kind,time')
    expect(() => ReplayModel.parse(bad, 'h.csv')).toThrow(/h\.csv:1: unknown column "time"[\s\S]*h\.csv:1: the column ts is missing/)
    const rows = CSV.replace('temperature_c,4.5', 'temperature_c,warm').replace('2025-03-03T08:01:00Z', 'yesterday').replace('shipment,2025', 'parcel,2025')
    expect(() => ReplayModel.parse(rows, 'h.csv')).toThrow(
      'h.csv: refused:\n  h.csv:2: value: "warm" is not a number\n  h.csv:4: ts: "yesterday" is not epoch ms or ISO 8601 with a zone\n  h.csv:8: kind: "parcel" is not reading, scan or shipment',
    )
  })
})
