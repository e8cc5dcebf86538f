/**
 * The rule engine and the alert lifecycle on a manual clock: real contracts, real SQLite, the real
 * runtime; only time is simulated (see test/helpers/rules.ts).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { openRuleHarness, T0, type RuleHarness } from './helpers/rules.ts'

const S = 1000
const MIN = 60 * S
const HOUR = 60 * MIN

let h: RuleHarness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

/** The cold-room rule of the shipped pack, with a 1 minute window so tests stay short. */
const COLD_ROOM = `
version: 1
rules:
  - id: cold-room-warm
    condition:
      kind: threshold
      metric: temperature_c
      select: { zone: 'cold-*' }
      window: { type: sliding, size: 1m }
      agg: avg
      op: '>'
      value: 8
      clear: 6
    for: 10m
    clear_for: 5m
    severity: critical
    annotations:
      summary: '{{ labels.zone }} is at {{ value }} °C (limit {{ threshold }} °C)'
    notify: [mqtt, bus]
`

/** Publish one temperature reading per `every` ms for `span` ms, at the clock's time, moving the clock. */
async function temps(h: RuleHarness, value: number | ((i: number) => number), span: number, every = 10 * S, device = 'env-1'): Promise<void> {
  for (let i = 0, t = 0; t < span; i++, t += every) {
    const v = typeof value === 'number' ? value : value(i)
    expect(h.publish(device, 'reading', { ts: h.clock.now(), metrics: { temperature_c: v } }, 'cold-1')).toBe(true)
    await h.advance(every)
  }
}

describe('for and hysteresis', () => {
  it('stays pending while the condition has held for less than `for`, fires once after, and resolves only after clear held for clear_for', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM })
    await temps(h, 10, 9 * MIN)
    expect(h.events('pending')).toHaveLength(1)
    expect(h.events('firing')).toHaveLength(0)
    await temps(h, 10, 2 * MIN)
    expect(h.events('firing')).toHaveLength(1)
    const fired = h.events('firing')[0]!
    expect(fired.alert.labels).toMatchObject({ zone: 'cold-1', device: 'env-1', metric: 'temperature_c' })
    expect(fired.alert.annotations.summary).toBe('cold-1 is at 10 °C (limit 8 °C)')
    expect(fired.alert.firedAt! - fired.alert.activeSince).toBeGreaterThanOrEqual(10 * MIN)

    // 7 °C is below the firing level but above the clear level: the hysteresis band keeps it firing.
    await temps(h, 7, 20 * MIN)
    expect(h.events('resolved')).toHaveLength(0)
    // Below 6 °C, but only for 4 minutes (plus the minute the window needs to forget the 7s): still firing.
    await temps(h, 5, 5 * MIN)
    await temps(h, 7, 2 * MIN)
    expect(h.events('resolved')).toHaveLength(0)
    await temps(h, 5, 7 * MIN)
    expect(h.events('resolved')).toHaveLength(1)
    expect(h.events('firing')).toHaveLength(1)
    expect(h.runtime.book.list().map((a) => a.state)).toEqual(['resolved'])
  })

  it('cancels a pending alert when the condition breaks before `for`, and starts `for` afresh next time', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM })
    await temps(h, 10, 8 * MIN)
    await temps(h, 4, 2 * MIN)
    expect(h.events('cancelled')).toHaveLength(1)
    await temps(h, 10, 8 * MIN)
    expect(h.events('firing')).toHaveLength(0)
    await temps(h, 10, 3 * MIN)
    expect(h.events('firing')).toHaveLength(1)
  })

  it('turns a signal flapping around its threshold for an hour into one alert, not many', async () => {
    h = await openRuleHarness({
      rules: COLD_ROOM.replace('for: 10m', 'for: 0s').replace('window: { type: sliding, size: 1m }', 'window: { type: sliding, size: 10s }'),
    })
    // 9, 7, 9, 7 ... every 10 s: crosses the firing level 180 times but never reaches the clear level.
    await temps(h, (i) => (i % 2 ? 7 : 9), HOUR)
    expect(h.events('firing')).toHaveLength(1)
    expect(h.events('resolved')).toHaveLength(0)
  })

  it('with flap damping, a resolve and re-fire within minStateChangeMs become one change each at most', async () => {
    const rules = COLD_ROOM.replace('for: 10m', 'for: 0s').replace('clear_for: 5m', 'clear_for: 0s').replace('size: 1m', 'size: 10s')
    h = await openRuleHarness({ rules, config: { rules: { minStateChangeMs: 10 * MIN } } })
    // Crosses both levels every minute (10 <-> 4).
    await temps(h, (i) => (Math.floor(i / 6) % 2 ? 4 : 10), HOUR)
    const changes = h.notices.filter((n) => n.event === 'firing' || n.event === 'resolved')
    expect(changes.length).toBeGreaterThan(1)
    expect(changes.length).toBeLessThanOrEqual(7)
    for (let i = 1; i < changes.length; i++) expect(changes[i]!.at - changes[i - 1]!.at).toBeGreaterThanOrEqual(10 * MIN)
  })
})

describe('restart', () => {
  it('keeps the start of a running `for`: fires at the original start + for, not restart + for', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM })
    await temps(h, 10, 4 * MIN)
    const since = h.runtime.book.list()[0]!.activeSince
    await h.restart()
    expect(h.runtime.book.list()[0]).toMatchObject({ state: 'pending', activeSince: since })
    await temps(h, 10, 7 * MIN)
    const fired = h.events('firing')
    expect(fired).toHaveLength(1)
    expect(fired[0]!.alert.activeSince).toBe(since)
    expect(fired[0]!.at).toBeLessThan(since + 11 * MIN)
  })

  it('does not fire a firing alert again, and does not lose a pending one', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM })
    await temps(h, 10, 11 * MIN)
    expect(h.events('firing')).toHaveLength(1)
    await h.restart()
    await temps(h, 10, 30 * MIN)
    expect(h.events('firing')).toHaveLength(1)
    expect(h.runtime.book.list()[0]!.state).toBe('firing')
  })

  it('a pending alert whose `for` ran out while the gateway was down fires when the data says the condition still holds', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM })
    await temps(h, 10, 5 * MIN)
    await h.restart()
    h.clock.advance(6 * MIN)
    await temps(h, 10, 20 * S)
    expect(h.events('firing')).toHaveLength(1)
  })
})

describe('dedup', () => {
  it('the same condition from many messages and devices of one series is one alert', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM.replace('for: 10m', 'for: 0s') })
    await temps(h, 12, 20 * MIN, 1 * S)
    expect(h.events('firing')).toHaveLength(1)
    expect(h.runtime.book.list()).toHaveLength(1)
  })

  it('one alert per series: two rooms give two alerts with different fingerprints', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM.replace('for: 10m', 'for: 0s') })
    for (let i = 0; i < 20; i++) {
      h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 12 } }, 'cold-1')
      h.publish('env-2', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 12 } }, 'cold-2')
      h.publish('env-3', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 12 } }, 'ambient')
      await h.advance(10 * S)
    }
    const fired = h.events('firing')
    expect(fired.map((n) => n.alert.labels.zone).sort()).toEqual(['cold-1', 'cold-2'])
    expect(new Set(fired.map((n) => n.alert.id)).size).toBe(2)
  })
})

describe('shared windows', () => {
  const TWO = `
version: 1
rules:
  - id: warm
    condition: { kind: threshold, metric: temperature_c, select: { zone: 'cold-*' }, window: { type: sliding, size: 1m }, agg: avg, op: '>', value: 8 }
    severity: warning
  - id: hot
    condition: { kind: threshold, metric: temperature_c, select: { zone: 'cold-*' }, window: { type: sliding, size: 1m }, agg: avg, op: '>', value: 20 }
    severity: critical
  - id: humid
    condition: { kind: threshold, metric: humidity_pct, select: { zone: 'cold-*' }, window: { type: sliding, size: 1m }, agg: avg, op: '>', value: 8 }
    severity: warning
  - id: peak
    condition: { kind: threshold, metric: temperature_c, select: { zone: 'cold-*' }, window: { type: sliding, size: 1m }, agg: max, op: '>', value: 24 }
    severity: warning
`

  it('rules with the same window on the same series each judge it by their own aggregate and limits; another metric never shares it', async () => {
    h = await openRuleHarness({ rules: TWO })
    // 12 °C and 5 % humidity: only `warm` holds (a humidity rule reading the temperature window would fire too).
    for (let i = 0; i < 10; i++) {
      expect(h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 12, humidity_pct: 5 } }, 'cold-1')).toBe(true)
      await h.advance(10 * S)
    }
    expect(h.events('firing').map((n) => n.alert.rule)).toEqual(['warm'])
    for (let i = 0; i < 10; i++) {
      h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 25, humidity_pct: 5 } }, 'cold-1')
      await h.advance(10 * S)
    }
    // The first 25 °C reading lifts the max over 24 at once; the average passes 20 four readings later.
    expect(h.events('firing').map((n) => n.alert.rule)).toEqual(['warm', 'peak', 'hot'])
    expect(h.events('firing', 'peak')[0]!.alert.value).toBe(25)
    expect(h.events('firing', 'hot')[0]!.alert.labels).toMatchObject({ metric: 'temperature_c', zone: 'cold-1' })
  })

  it('a rule added by a reload reads the history its window already holds', async () => {
    h = await openRuleHarness({ rules: TWO.split('  - id: hot')[0]! })
    // 30 s of 25 °C, then the reload adds `hot`; one more reading brings the minute's average over 20 only with the history.
    for (let i = 0; i < 4; i++) {
      h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 25 } }, 'cold-1')
      await h.advance(10 * S)
    }
    h.runtime.putRules({ file: 'test.yaml', text: TWO })
    h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 0 } }, 'cold-1')
    await h.advance(1)
    // (4 x 25 + 0) / 5 = 20 is not > 20; with one more 25 it is 20.8.
    h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 25 } }, 'cold-1')
    await h.advance(1)
    expect(h.events('firing', 'hot')).toHaveLength(1)
    expect(h.events('firing', 'hot')[0]!.alert.value).toBeCloseTo(125 / 6, 5)
  })
})

describe('late data', () => {
  const TUMBLING = `
version: 1
rules:
  - id: hot
    condition: { kind: threshold, metric: t, window: { type: tumbling, size: 1m }, agg: max, op: '>', value: 50 }
    severity: warning
`
  it('is counted, and never folded into a window that already closed', async () => {
    h = await openRuleHarness({ rules: TUMBLING, config: { rules: { allowedLatenessMs: 5000 } } })
    const start = h.clock.now()
    for (let i = 0; i < 6; i++) {
      h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { t: 20 } })
      await h.advance(10 * S)
    }
    await h.advance(10 * S) // 70 s: the first minute closed at 60 s + 5 s lateness
    // A hot point for the first minute arrives late: it would fire if it were folded in.
    expect(h.publish('env-1', 'reading', { ts: start + 30 * S, metrics: { t: 99 } })).toBe(true)
    await h.advance(2 * MIN)
    expect(h.events('pending')).toHaveLength(0)
    expect(h.runtime.engine.ruleStats().get('hot')!.latePoints).toBe(1)
    // Stored all the same: the store keeps every accepted point, the rule just does not count it.
    expect(h.store.series.countPoints({ metric: 't' })).toBe(7)
  })

  it('within the allowed lateness, a point lands in its own window', async () => {
    h = await openRuleHarness({ rules: TUMBLING, config: { rules: { allowedLatenessMs: 30_000 } } })
    const start = h.clock.now()
    for (let i = 0; i < 6; i++) {
      h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { t: 20 } })
      await h.advance(10 * S)
    }
    await h.advance(10 * S)
    h.publish('env-1', 'reading', { ts: start + 30 * S, metrics: { t: 99 } })
    await h.advance(MIN)
    expect(h.events('firing')).toHaveLength(1)
    expect(h.events('firing')[0]!.alert.value).toBe(99)
  })
})

describe('stock, shipments, devices, forecasts, absence', () => {
  const SKUS = `
version: 1
skus:
  - { sku: SKU-1, reorder_point: 20, safety_stock: 5, lead_time: 2d, unit_weight_kg: 0.5, bin: A-1 }
`
  it('stock below the reorder point fires once, a receive above the clear level resolves it', async () => {
    const rules = `
version: 1
rules:
  - id: reorder
    condition: { kind: stock, below: reorder_point, clear: 30 }
    severity: warning
    annotations: { summary: '{{ labels.sku }} {{ value }} < {{ threshold }}' }
`
    h = await openRuleHarness({ rules, skus: SKUS })
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'receive', sku: 'SKU-1', qty: 40, location: 'A-1' })
    for (let i = 0; i < 25; i++) {
      h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'pick', sku: 'SKU-1', qty: 1, location: 'A-1' })
      await h.advance(S)
    }
    expect(h.events('firing')).toHaveLength(1)
    expect(h.events('firing')[0]!.alert.annotations.summary).toBe('SKU-1 19 < 20')
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'receive', sku: 'SKU-1', qty: 5, location: 'A-1' })
    expect(h.events('resolved')).toHaveLength(0) // 20: back at the reorder point but below clear (30)
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'receive', sku: 'SKU-1', qty: 10, location: 'A-1' })
    expect(h.events('resolved')).toHaveLength(1)
  })

  it('a shelf scale and the scans disagreeing beyond tolerance fires a discrepancy', async () => {
    const rules = `
version: 1
rules:
  - id: disc
    condition: { kind: stock_discrepancy, sku: 'SKU-*', tolerance: { units: 2, pct: 5 } }
    severity: warning
    annotations: { summary: 'scale {{ scale }} scans {{ scans }}' }
`
    h = await openRuleHarness({ rules, skus: SKUS })
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'count', sku: 'SKU-1', qty: 40, location: 'A-1' })
    h.publish('scale-1', 'reading', { ts: h.clock.now(), sku: 'SKU-1', metrics: { weight_kg: 19.5 } }) // 39 units
    expect(h.events('firing')).toHaveLength(0)
    await h.advance(S)
    h.publish('scale-1', 'reading', { ts: h.clock.now(), sku: 'SKU-1', metrics: { weight_kg: 15 } }) // 30 units
    expect(h.events('firing')).toHaveLength(1)
    expect(h.events('firing')[0]!.alert.annotations.summary).toBe('scale 30 scans 40')
  })

  it('shipment SLA: a released shipment not loaded by its deadline fires (at risk before it), a late loaded resolves', async () => {
    const rules = `
version: 1
rules:
  - id: sla
    condition: { kind: shipment_sla, step: released->loaded, within: 4h, at_risk_before: 30m }
    severity: critical
    annotations: { summary: '{{ labels.shipment }} by {{ deadline }}' }
`
    h = await openRuleHarness({ rules })
    const released = h.clock.now()
    h.publish('trk-1', 'shipment', { ts: released, shipmentId: 'SH-1', status: 'released' })
    h.publish('trk-1', 'shipment', { ts: released, shipmentId: 'SH-2', status: 'released' })
    await h.advance(HOUR)
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'ship', sku: 'SKU-1', qty: 1, location: 'DOCK-1', ref: 'SH-2' }) // loaded in time
    await h.advance(2 * HOUR + 29 * MIN)
    expect(h.events('firing')).toHaveLength(0)
    await h.advance(2 * MIN)
    const fired = h.events('firing')
    expect(fired.map((n) => n.alert.labels.shipment)).toEqual(['SH-1'])
    expect(fired[0]!.alert.annotations.summary).toBe(`SH-1 by ${new Date(released + 4 * HOUR).toISOString()}`)
    await h.advance(HOUR)
    h.publish('trk-1', 'shipment', { ts: h.clock.now(), shipmentId: 'SH-1', status: 'loaded' })
    expect(h.events('resolved')).toHaveLength(1)
  })

  it('a stalled shipment and a silent device fire on their timers alone, and clear when they report', async () => {
    const rules = `
version: 1
rules:
  - id: stalled
    condition: { kind: shipment_stalled, no_update_for: 2h, status: [departed] }
    severity: warning
  - id: silent
    condition: { kind: device_silent, silent_for: 15m, device_kind: env }
    severity: warning
`
    h = await openRuleHarness({ rules })
    await h.store.devices.add({ id: 'env-1', kind: 'env', site: 'test', zone: 'z1' })
    await h.store.devices.add({ id: 'scan-1', kind: 'scanner', site: 'test', zone: 'z1' })
    h.runtime.engine.refreshDevices()
    h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { t: 1 } })
    h.publish('trk-1', 'shipment', { ts: h.clock.now(), shipmentId: 'SH-9', status: 'departed' })
    await h.advance(14 * MIN)
    h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { t: 1 } })
    await h.advance(14 * MIN)
    expect(h.events('firing', 'silent')).toHaveLength(0)
    await h.advance(2 * MIN)
    expect(h.events('firing', 'silent').map((n) => n.alert.labels.device)).toEqual(['env-1'])
    h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { t: 1 } })
    expect(h.events('resolved', 'silent')).toHaveLength(1)
    await h.advance(2 * HOUR)
    expect(h.events('firing', 'stalled').map((n) => n.alert.labels.shipment)).toEqual(['SH-9'])
    h.publish('trk-1', 'shipment', { ts: h.clock.now(), shipmentId: 'SH-9', status: 'delivered' })
    expect(h.events('resolved', 'stalled')).toHaveLength(1)
  })

  it('battery low fires below `below` and resolves only at `clear`', async () => {
    const rules = `
version: 1
rules:
  - id: battery
    condition: { kind: battery_low, below: 20, clear: 50 }
    severity: info
`
    h = await openRuleHarness({ rules })
    await h.store.devices.add({ id: 'env-1', kind: 'env', site: 'test', zone: 'z1' })
    h.runtime.engine.refreshDevices()
    for (const pct of [30, 19, 25, 45]) {
      h.publish('env-1', 'status', { ts: h.clock.now(), battery_pct: pct })
      await h.advance(MIN)
    }
    expect(h.events('firing')).toHaveLength(1)
    expect(h.events('resolved')).toHaveLength(0)
    h.publish('env-1', 'status', { ts: h.clock.now(), battery_pct: 95 })
    expect(h.events('resolved')).toHaveLength(1)
  })

  it('forecast signals: days of cover below N fires from a constant signal source', async () => {
    const rules = `
version: 1
rules:
  - id: cover
    condition: { kind: forecast, signal: days_of_cover, sku: 'SKU-*', op: '<', value: 3, clear: 5 }
    severity: warning
    annotations: { summary: '{{ labels.sku }}: {{ value }} days' }
`
    const cover = new Map([
      ['SKU-1', 2.5],
      ['SKU-2', 9],
    ])
    h = await openRuleHarness({ rules, forecasts: { get: (sku) => cover.get(sku), skus: () => cover.keys() } })
    expect(h.events('firing').map((n) => n.alert.annotations.summary)).toEqual(['SKU-1: 2.5 days'])
    cover.set('SKU-1', 4)
    h.runtime.engine.onForecast('SKU-1')
    await h.advance(S)
    expect(h.events('resolved')).toHaveLength(0)
    cover.set('SKU-1', 6)
    h.runtime.engine.onForecast('SKU-1')
    await h.advance(S)
    expect(h.events('resolved')).toHaveLength(1)
  })

  it('forecast signals: a SKU that loses its forecast resolves its alert instead of firing forever', async () => {
    const rules = `
version: 1
rules:
  - id: cover
    condition: { kind: forecast, signal: days_of_cover, sku: '*', op: '<', value: 3 }
    severity: warning
`
    const cover = new Map([['SKU-1', 1]])
    h = await openRuleHarness({ rules, forecasts: { get: (sku) => cover.get(sku), skus: () => cover.keys() } })
    expect(h.events('firing')).toHaveLength(1)
    cover.delete('SKU-1')
    // Without a forecast nothing is known: an ordinary re-evaluation leaves the alert as it was...
    h.runtime.engine.onForecast('SKU-1')
    await h.advance(S)
    expect(h.events('resolved')).toHaveLength(0)
    // ...and a reload that dropped the SKU's forecast resolves it.
    h.runtime.engine.onForecast('SKU-1', true)
    await h.advance(S)
    expect(h.events('resolved')).toHaveLength(1)
  })

  it('absence: no receive at dock 2 for 2 hours during the shift fires; nothing is expected outside the shift', async () => {
    const rules = `
version: 1
rules:
  - id: dock
    condition:
      kind: absence
      event: receive
      select: { location: 'DOCK-2*' }
      schedule: { days: [mon], from: '06:00', to: '14:00', tz: UTC }
      every: 2h
    severity: warning
`
    // Monday 05:00Z: the shift opens at 06:00.
    h = await openRuleHarness({ rules, t0: T0 - 3 * HOUR })
    await h.advance(2 * HOUR + 59 * MIN) // 07:59
    expect(h.events('firing')).toHaveLength(0)
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'receive', sku: 'SKU-1', qty: 1, location: 'DOCK-2' })
    await h.advance(HOUR + 59 * MIN) // 09:58
    expect(h.events('firing')).toHaveLength(0)
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'receive', sku: 'SKU-1', qty: 1, location: 'DOCK-1' }) // other dock
    await h.advance(2 * MIN) // 10:00
    expect(h.events('firing')).toHaveLength(1)
    await h.advance(4 * HOUR) // 14:00: shift over, nothing expected
    expect(h.events('resolved')).toHaveLength(1)
    await h.advance(12 * HOUR)
    expect(h.events('firing')).toHaveLength(1)
  })
})

describe('acknowledge and silence', () => {
  it('records who acknowledged; a silenced alert changes state but is delivered to no target', async () => {
    h = await openRuleHarness({ rules: COLD_ROOM.replace('for: 10m', 'for: 0s') })
    h.runtime.silence({ matchers: { rule: 'cold-room-*', zone: 'cold-2' }, endsAt: h.clock.now() + HOUR, createdBy: 'tester' })
    h.publish('env-1', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 12 } }, 'cold-1')
    h.publish('env-2', 'reading', { ts: h.clock.now(), metrics: { temperature_c: 12 } }, 'cold-2')
    const fired = h.events('firing')
    expect(fired).toHaveLength(2)
    const loud = fired.find((n) => n.alert.labels.zone === 'cold-1')!
    const quiet = fired.find((n) => n.alert.labels.zone === 'cold-2')!
    expect(loud.deliver).toEqual(['mqtt', 'bus'])
    expect(quiet.alert.silencedBy).not.toBeNull()
    expect(quiet.deliver).toEqual(['bus'])
    h.runtime.ack({ id: loud.alert.id, by: 'shift-lead' })
    expect(h.runtime.book.get(loud.alert.id)!.ack).toEqual({ by: 'shift-lead', at: h.clock.now() })
    await h.restart()
    expect(h.runtime.book.get(loud.alert.id)!.ack?.by).toBe('shift-lead')
  })
})

describe('isolation', () => {
  it('a rule that throws is counted and the others still run', async () => {
    const rules = `
version: 1
rules:
  - id: reorder
    condition: { kind: stock, below: 10 }
    severity: warning
  - id: discrepancy
    condition: { kind: stock_discrepancy, tolerance: { units: 1 } }
    severity: warning
`
    h = await openRuleHarness({ rules })
    // Break one rule's input: the stock view throws for the discrepancy rule only.
    const stock = h.runtime.stock
    const real = stock.totalFor.bind(stock)
    stock.totalFor = (sku, where) => {
      if (where === undefined && new Error().stack!.includes('evaluateDiscrepancy')) throw new Error('boom')
      return real(sku, where)
    }
    h.publish('scale-1', 'reading', { ts: h.clock.now(), sku: 'SKU-1', metrics: { units: 3 } })
    h.publish('scan-1', 'scan', { ts: h.clock.now(), event: 'receive', sku: 'SKU-1', qty: 5, location: 'A-1' })
    expect(h.runtime.engine.ruleStats().get('discrepancy')!.errors).toBeGreaterThan(0)
    expect(h.events('firing', 'reorder')).toHaveLength(1)
  })
})
