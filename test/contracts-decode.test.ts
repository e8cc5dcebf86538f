// The payload contracts: what each message kind becomes, and how and why anything else is refused.
// Spec: gateway/contracts/README.md.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CONTRACTS, decodeMessage, jsonSchemas, jsonSchemaText, MESSAGE_KINDS } from '../gateway/contracts/index.ts'
import type { Decoded, DecodeContext } from '../gateway/contracts/index.ts'
import type { Accepted, Rejection, RejectionCode } from '../gateway/core/records.ts'

const NOW = Date.parse('2025-01-31T12:00:30Z')
const T0 = Date.parse('2025-01-31T12:00:00Z')
const DAY = 86_400_000
const MIB = 1024 * 1024
const LIMITS: DecodeContext['limits'] = { maxPayloadBytes: 64 * 1024, maxDepth: 8, maxFutureSkewMs: 5 * 60_000, maxPastAgeMs: 7 * DAY }
const LABELS = { site: 'dc-east', zone: 'cold', device: 'scale-07', sku: '' }

function decode(kind: string, payload: unknown, limits: Partial<DecodeContext['limits']> = {}): Decoded {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload))
  return decodeMessage(kind, {
    deviceId: 'scale-07',
    site: 'dc-east',
    zone: 'cold',
    topic: `stockyard/v1/dc-east/scale-07/${kind}`,
    payload: bytes,
    now: NOW,
    limits: { ...LIMITS, ...limits },
  })
}

function accepted(kind: string, payload: unknown, limits?: Partial<DecodeContext['limits']>): Accepted {
  const d = decode(kind, payload, limits)
  if (!d.ok) throw new Error(`expected the ${kind} to be accepted, got ${d.rejection.code}: ${d.rejection.message}`)
  return d.accepted
}

function rejected(kind: string, payload: unknown, limits?: Partial<DecodeContext['limits']>): Rejection {
  const d = decode(kind, payload, limits)
  if (d.ok) throw new Error(`expected the ${kind} to be rejected, got ${JSON.stringify(d.accepted)}`)
  return d.rejection
}

describe('reading', () => {
  it('becomes one point per metric, labelled with site, zone, device and an empty sku', () => {
    const a = accepted('reading', { v: 1, ts: T0, metrics: { temperature_c: 4.2, humidity_pct: 61 } })
    expect(a).toEqual({
      device: 'scale-07',
      site: 'dc-east',
      kind: 'reading',
      points: [
        { metric: 'temperature_c', labels: LABELS, ts: T0, value: 4.2 },
        { metric: 'humidity_pct', labels: LABELS, ts: T0, value: 61 },
      ],
      events: [],
      keys: [],
    })
  })

  it('accepts ts as epoch milliseconds, or as ISO 8601 with Z or an offset', () => {
    for (const ts of [T0, '2025-01-31T12:00:00Z', '2025-01-31T13:00:00+01:00', '2025-01-31T12:00:00.000Z']) {
      expect(accepted('reading', { v: 1, ts, metrics: { t: 1 } }).points[0]?.ts).toBe(T0)
    }
  })

  it('truncates fractional epoch milliseconds and sub-millisecond ISO digits to whole milliseconds', () => {
    expect(accepted('reading', { v: 1, ts: T0 + 0.7, metrics: { t: 1 } }).points[0]?.ts).toBe(T0)
    expect(accepted('reading', { v: 1, ts: '2025-01-31T12:00:00.250999Z', metrics: { t: 1 } }).points[0]?.ts).toBe(T0 + 250)
  })

  it('labels the points of a shelf scale with its sku', () => {
    const a = accepted('reading', { v: 1, ts: T0, metrics: { weight_kg: 12.5 }, sku: 'SKU-1001' })
    expect(a.points[0]?.labels.sku).toBe('SKU-1001')
  })

  it('keys a reading that carries a seq, and not one without', () => {
    expect(accepted('reading', { v: 1, ts: T0, metrics: { t: 1 }, seq: 42 }).keys).toEqual([{ seq: 42, ts: T0, points: [0, 1], events: [0, 0] }])
    expect(accepted('reading', { v: 1, ts: T0, metrics: { t: 1 } }).keys).toEqual([])
  })

  it('accepts the batch form on the same topic: points of every element, one key per element with a seq', () => {
    const a = accepted('reading', {
      v: 1,
      readings: [
        { ts: T0 - 1000, metrics: { temperature_c: 4.1, humidity_pct: 60 }, seq: 7 },
        { ts: '2025-01-31T12:00:00Z', metrics: { weight_kg: 3 }, sku: 'SKU-1' },
      ],
    })
    expect(a.kind).toBe('reading')
    expect(a.points.map((p) => [p.metric, p.ts, p.value, p.labels.sku])).toEqual([
      ['temperature_c', T0 - 1000, 4.1, ''],
      ['humidity_pct', T0 - 1000, 60, ''],
      ['weight_kg', T0, 3, 'SKU-1'],
    ])
    // The key names exactly the records its element produced (the first reading's two points).
    expect(a.keys).toEqual([{ seq: 7, ts: T0 - 1000, points: [0, 2], events: [0, 0] }])
  })

  it('accepts a batch of 1000 readings and refuses one of 1001', () => {
    const batch = (n: number) => ({ v: 1, readings: Array.from({ length: n }, (_, i) => ({ ts: T0, metrics: { t: i } })) })
    expect(accepted('reading', batch(1000), { maxPayloadBytes: MIB }).points).toHaveLength(1000)
    const r = rejected('reading', batch(1001), { maxPayloadBytes: MIB })
    expect(r.code).toBe('payload.invalid')
    expect(r.message).toBe('readings: must be at most 1000 elements, got 1001 elements')
  })

  it('refuses a whole batch when one element is out of the time window, naming the element', () => {
    const r = rejected('reading', {
      v: 1,
      readings: [
        { ts: T0, metrics: { t: 1 } },
        { ts: T0 + DAY, metrics: { t: 2 } },
      ],
    })
    expect(r.code).toBe('ts.future')
    expect(r.message).toMatch(/^readings\[1\]\.ts: 2025-02-01T12:00:00\.000Z is 23h 59m ahead/)
  })
})

describe('scan', () => {
  it('becomes one scan event with sku and ref, and the payload as body with ts in epoch ms', () => {
    const payload = { v: 1, ts: '2025-01-31T12:00:00Z', event: 'pick', sku: 'SKU-1001', qty: 3, location: 'A-01-03', ref: 'SO-88123', seq: 77 }
    expect(accepted('scan', payload)).toEqual({
      device: 'scale-07',
      site: 'dc-east',
      kind: 'scan',
      points: [],
      events: [{ kind: 'scan', ts: T0, site: 'dc-east', zone: 'cold', device: 'scale-07', sku: 'SKU-1001', ref: 'SO-88123', body: { ...payload, ts: T0 } }],
      keys: [{ seq: 77, ts: T0, points: [0, 0], events: [0, 1] }],
    })
  })

  it('stores an absent ref as the empty string', () => {
    expect(accepted('scan', { v: 1, ts: T0, event: 'count', sku: 'S1', qty: 0, location: 'B-2' }).events[0]?.ref).toBe('')
  })

  it('lets only an adjust carry a negative qty', () => {
    expect(accepted('scan', { v: 1, ts: T0, event: 'adjust', sku: 'S1', qty: -2, location: 'B-2' }).events).toHaveLength(1)
    const r = rejected('scan', { v: 1, ts: T0, event: 'pick', sku: 'S1', qty: -2, location: 'B-2' })
    expect(r.message).toBe('qty: must be at least 0 unless event is "adjust"')
  })

  it('lets a putaway name the location it moved the stock from, and keeps it in the body', () => {
    const a = accepted('scan', { v: 1, ts: T0, event: 'putaway', sku: 'S1', qty: 24, location: 'A-1', from: 'DOCK-2' })
    expect(a.events[0]?.body).toMatchObject({ event: 'putaway', location: 'A-1', from: 'DOCK-2' })
  })

  it('refuses from on any event but putaway, naming the field', () => {
    const r = rejected('scan', { v: 1, ts: T0, event: 'pick', sku: 'S1', qty: 1, location: 'A-1', from: 'B-2' })
    expect(r.code).toBe('payload.invalid')
    expect(r.message).toBe('from: only a "putaway" moves stock from a location; leave from out of other events')
  })
})

describe('shipment', () => {
  it('becomes one shipment event whose ref is the shipment id, with ts and eta in epoch ms', () => {
    const payload = {
      v: 1,
      ts: T0,
      shipmentId: 'SH-2025-000431',
      status: 'departed',
      eta: '2025-01-31T16:30:00+01:00',
      position: { lat: 51.9225, lon: 4.47917 },
      note: 'via A15',
    }
    const a = accepted('shipment', payload)
    expect(a.points).toEqual([])
    expect(a.events).toEqual([
      {
        kind: 'shipment',
        ts: T0,
        site: 'dc-east',
        zone: 'cold',
        device: 'scale-07',
        sku: '',
        ref: 'SH-2025-000431',
        body: { ...payload, eta: Date.parse('2025-01-31T15:30:00Z') },
      },
    ])
  })

  it('does not hold an eta to the time window: it is meant to be in the future', () => {
    expect(accepted('shipment', { v: 1, ts: T0, shipmentId: 'SH1', status: 'loaded', eta: T0 + 30 * DAY }).events).toHaveLength(1)
  })
})

describe('status', () => {
  it('becomes one status event plus a point for each numeric field present', () => {
    const a = accepted('status', { v: 1, ts: T0, state: 'online', battery_pct: 87, firmware: '2.4.1', rssi_dbm: -61, seq: 12 })
    expect(a.events).toEqual([
      {
        kind: 'status',
        ts: T0,
        site: 'dc-east',
        zone: 'cold',
        device: 'scale-07',
        sku: '',
        ref: '',
        body: { v: 1, ts: T0, state: 'online', battery_pct: 87, firmware: '2.4.1', rssi_dbm: -61, seq: 12 },
      },
    ])
    expect(a.points).toEqual([
      { metric: 'battery_pct', labels: LABELS, ts: T0, value: 87 },
      { metric: 'rssi_dbm', labels: LABELS, ts: T0, value: -61 },
    ])
    expect(a.keys).toEqual([{ seq: 12, ts: T0, points: [0, 2], events: [0, 1] }])
  })

  it('stamps a status without ts with the arrival time, since a will message is composed at connect time', () => {
    const a = accepted('status', { v: 1, state: 'offline' })
    expect(a.events[0]?.ts).toBe(NOW)
    expect(a.events[0]?.body).toEqual({ v: 1, state: 'offline', ts: NOW })
    expect(a.points).toEqual([])
  })
})

describe('published examples', () => {
  it.each(MESSAGE_KINDS)('every example of %s decodes', (kind) => {
    const contract = CONTRACTS.get(kind)
    expect(contract?.examples.length).toBeGreaterThan(0)
    for (const example of contract?.examples ?? []) expect(accepted(kind, example).kind).toBe(kind)
  })
})

const reading = (extra: Record<string, unknown>) => ({ v: 1, ts: T0, metrics: { temperature_c: 4.2 }, ...extra })
const scan = (extra: Record<string, unknown>) => ({ v: 1, ts: T0, event: 'pick', sku: 'S1', qty: 1, location: 'A-1', ...extra })

interface Bad {
  name: string
  kind?: string
  payload: unknown
  code: RejectionCode
  message: string | RegExp
  limits?: Partial<DecodeContext['limits']>
}

const BAD: Bad[] = [
  { name: 'text that is not JSON', payload: 'temperature=4.2', code: 'payload.not_json', message: /^payload is not valid JSON: / },
  { name: 'an empty payload', payload: '', code: 'payload.not_json', message: 'payload is empty; expected a JSON object' },
  { name: 'bytes that are not UTF-8', payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 'payload.not_json', message: /not valid UTF-8/ },
  { name: 'a NaN token', payload: '{"v":1,"ts":1,"metrics":{"t":NaN}}', code: 'payload.not_json', message: /not valid JSON/ },
  { name: 'an Infinity token', payload: '{"v":1,"ts":1,"metrics":{"t":Infinity}}', code: 'payload.not_json', message: /not valid JSON/ },
  {
    name: 'a 1 MiB payload',
    payload: Buffer.alloc(MIB, 0x20),
    code: 'payload.too_large',
    message: `payload is ${MIB} bytes; the limit is 65536 bytes (mqtt.maxPayloadBytes); send smaller batches`,
  },
  {
    name: 'nesting deeper than maxDepth',
    payload: reading({ metrics: { t: 1 }, sku: undefined, x: [[[[[[[[1]]]]]]]] }),
    code: 'payload.too_deep',
    message: /^payload nests deeper than 8 levels \(ingest\.maxDepth\) at byte \d+$/,
  },
  {
    name: 'an unknown kind',
    kind: 'readings',
    payload: reading({}),
    code: 'payload.unknown_kind',
    message: 'unknown message kind "readings" (last topic level); kinds are reading, scan, shipment, status',
  },
  { name: 'a JSON array at the top level', payload: [reading({})], code: 'payload.invalid', message: 'expected a JSON object at the top level, got an array' },
  { name: 'version 2', payload: reading({ v: 2 }), code: 'payload.unsupported_version', message: 'v: version 2 is not supported; supported versions: 1' },
  { name: 'a missing version', payload: reading({ v: undefined }), code: 'payload.invalid', message: 'v: missing; expected 1' },
  { name: 'a version given as a string', payload: reading({ v: '1' }), code: 'payload.invalid', message: 'v: expected 1, got string "1"' },
  {
    name: 'a metric that is not a number',
    payload: reading({ metrics: { temperature_c: 'hot' } }),
    code: 'payload.invalid',
    message: 'metrics.temperature_c: expected a finite number, got string "hot"',
  },
  {
    name: 'a metric of 1e999 (Infinity once parsed)',
    payload: '{"v":1,"ts":1738324800000,"metrics":{"t":1e999}}',
    code: 'payload.invalid',
    message: 'metrics.t: expected a finite number, got Infinity (an overflowing number such as 1e999)',
  },
  {
    name: 'a metric name with capitals and a space',
    payload: reading({ metrics: { 'Temp C': 4 } }),
    code: 'payload.invalid',
    message: /^metrics\["Temp C"\]: invalid key: metric names are 1 to 64 lowercase letters/,
  },
  { name: 'no metrics', payload: reading({ metrics: {} }), code: 'payload.invalid', message: 'metrics: must hold 1 to 64 metrics' },
  {
    name: '65 metrics',
    payload: reading({ metrics: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, i])) }),
    code: 'payload.invalid',
    message: 'metrics: must hold 1 to 64 metrics',
  },
  {
    name: 'a missing ts',
    payload: reading({ ts: undefined }),
    code: 'payload.invalid',
    message: /^ts: missing; expected epoch milliseconds \(a number\) or an ISO 8601 date-time/,
  },
  {
    name: 'a ts without offset',
    payload: reading({ ts: '2025-01-31T12:00:00' }),
    code: 'payload.invalid',
    message: /^ts: expected an ISO 8601 date-time with seconds and Z or a ±hh:mm offset, e\.g\. "2025-01-31T12:00:00Z", got string "2025-01-31T12:00:00"$/,
  },
  { name: 'a ts of the wrong type', payload: reading({ ts: true }), code: 'payload.invalid', message: /^ts: expected epoch milliseconds .* got boolean true$/ },
  { name: 'a negative seq', payload: reading({ seq: -1 }), code: 'payload.invalid', message: 'seq: must be at least 0, got -1' },
  { name: 'a fractional seq', payload: reading({ seq: 1.5 }), code: 'payload.invalid', message: 'seq: expected an integer, got number 1.5' },
  { name: 'an unknown key', payload: reading({ temp: 4 }), code: 'payload.invalid', message: 'temp: unknown key; allowed keys: v, ts, metrics, seq, sku' },
  {
    name: 'an unknown nested key',
    kind: 'shipment',
    payload: { v: 1, ts: T0, shipmentId: 'SH1', status: 'loaded', position: { lat: 1, lon: 2, alt: 3 } },
    code: 'payload.invalid',
    message: 'position.alt: unknown key; allowed keys: lat, lon',
  },
  {
    name: 'an unknown key in a batch element',
    payload: { v: 1, readings: [{ ts: T0, metrics: { t: 1 }, zone: 'z' }] },
    code: 'payload.invalid',
    message: 'readings[0].zone: unknown key; allowed keys: ts, metrics, seq, sku',
  },
  {
    name: 'a scan with missing fields',
    kind: 'scan',
    payload: { v: 1, ts: T0, event: 'pick' },
    code: 'payload.invalid',
    message: 'sku: missing; expected a string; qty: missing; expected a finite number; location: missing; expected a string',
  },
  {
    name: 'a scan event not in the list',
    kind: 'scan',
    payload: scan({ event: 'steal' }),
    code: 'payload.invalid',
    message: 'event: expected one of "receive", "putaway", "pick", "pack", "ship", "count", "adjust", got string "steal"',
  },
  { name: 'a fractional qty', kind: 'scan', payload: scan({ qty: 2.5 }), code: 'payload.invalid', message: 'qty: expected an integer, got number 2.5' },
  {
    name: 'a sku with a space',
    kind: 'scan',
    payload: scan({ sku: 'SKU 1' }),
    code: 'payload.invalid',
    message: 'sku: expected letters, digits and . _ : / # + - (starting with a letter or digit), got string "SKU 1"',
  },
  {
    name: 'a location of 129 characters',
    kind: 'scan',
    payload: scan({ location: 'L'.repeat(129) }),
    code: 'payload.invalid',
    message: 'location: must be at most 128 characters, got 129 characters',
  },
  {
    name: 'a latitude of 91',
    kind: 'shipment',
    payload: { v: 1, ts: T0, shipmentId: 'SH1', status: 'loaded', position: { lat: 91, lon: 0 } },
    code: 'payload.invalid',
    message: 'position.lat: must be at most 90, got 91',
  },
  {
    name: 'a battery above 100 %',
    kind: 'status',
    payload: { v: 1, battery_pct: 101 },
    code: 'payload.invalid',
    message: 'battery_pct: must be at most 100, got 101',
  },
  {
    name: 'a ts 10 minutes ahead',
    payload: reading({ ts: NOW + 10 * 60_000 }),
    code: 'ts.future',
    message:
      'ts: 2025-01-31T12:10:30.000Z is 10m ahead of the gateway clock (2025-01-31T12:00:30.000Z); the limit is 5m (ingest.maxFutureSkewMs). Check the device clock (NTP).',
  },
  {
    name: 'a ts 8 days old',
    payload: reading({ ts: NOW - 8 * DAY }),
    code: 'ts.past',
    message: 'ts: 2025-01-23T12:00:30.000Z is 8d behind the gateway clock (2025-01-31T12:00:30.000Z); the limit is 7d (ingest.maxPastAgeMs).',
  },
  { name: 'a ts in epoch seconds', payload: reading({ ts: T0 / 1000 }), code: 'ts.past', message: /It looks like epoch seconds; ts is epoch milliseconds\.$/ },
  {
    name: 'a status ts from the future',
    kind: 'status',
    payload: { v: 1, ts: '2030-01-01T00:00:00Z' },
    code: 'ts.future',
    message: /^ts: 2030-01-01T00:00:00\.000Z is 1795d 11h ahead of the gateway clock/,
  },
]

describe('refused input', () => {
  it.each(BAD)('refuses $name as $code', ({ kind, payload, code, message, limits }) => {
    const r = rejected(kind ?? 'reading', payload, limits)
    expect(r.code).toBe(code)
    if (typeof message === 'string') expect(r.message).toBe(message)
    else expect(r.message).toMatch(message)
  })

  it('lists at most five issues, and says how many more there are', () => {
    const r = rejected('reading', reading({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }))
    // One unrecognized_keys issue covers all seven keys.
    expect(r.message).toBe('a, b, c, d, e, f, g: unknown keys; allowed keys: v, ts, metrics, seq, sku')
    const many = rejected('reading', { v: 1, ts: T0, metrics: { a: 'x', b: 'x', c: 'x', d: 'x', e: 'x', f: 'x', g: 'x' } })
    expect(many.message.split('; ')).toHaveLength(5)
    expect(many.message).toMatch(/\(and 2 more\)$/)
  })

  it('refuses 100,000 levels of nesting as too deep, without throwing', () => {
    const limits = { maxPayloadBytes: MIB }
    const arrays = '['.repeat(100_000) + ']'.repeat(100_000)
    const objects = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)
    expect(rejected('reading', arrays, limits).code).toBe('payload.too_deep')
    expect(rejected('reading', objects, limits).code).toBe('payload.too_deep')
    // Unbalanced, so not JSON at all; either refusal is fine, a crash is not.
    expect(['payload.too_deep', 'payload.not_json']).toContain(rejected('reading', '['.repeat(100_000), limits).code)
  })

  it('counts brackets inside strings as text, not as nesting', () => {
    expect(accepted('status', { v: 1, firmware: '[[[[{{{{"]]]]' }, { maxDepth: 2 }).events).toHaveLength(1)
  })

  it('checks size before parsing: a huge non-JSON payload is too large, not malformed', () => {
    expect(rejected('reading', Buffer.alloc(LIMITS.maxPayloadBytes + 1, 0x78)).code).toBe('payload.too_large')
  })

  it('records who sent the rejected message, its seq, the first 1 KiB of it, and the arrival time', () => {
    const payload = JSON.stringify(reading({ seq: 99, metrics: { t: 'x' }, note: 'n'.repeat(2000) }))
    const r = rejected('reading', payload)
    expect(r).toMatchObject({ device: 'scale-07', site: 'dc-east', topic: 'stockyard/v1/dc-east/scale-07/reading', seq: 99, ts: NOW })
    expect(r.sample).toBe(payload.slice(0, 1024))
  })

  it('leaves seq out of a rejection when the payload had none, or none readable', () => {
    expect(rejected('reading', reading({ metrics: {} })).seq).toBeUndefined()
    expect(rejected('reading', reading({ seq: 'seven', metrics: {} })).seq).toBeUndefined()
    expect(rejected('reading', 'not json').seq).toBeUndefined()
  })

  it('takes the seq of a rejected batch from its first reading', () => {
    expect(rejected('reading', { v: 1, readings: [{ ts: T0, metrics: {}, seq: 5 }] }).seq).toBe(5)
  })
})

describe('JSON Schema for integrators', () => {
  const dir = new URL('../gateway/contracts/json-schema/', import.meta.url)

  it.each(MESSAGE_KINDS)('json-schema/%s.schema.json is up to date (regenerate: npm run schemas)', (kind) => {
    const schemas: Record<string, Record<string, unknown>> = jsonSchemas()
    const onDisk = readFileSync(new URL(`${kind}.schema.json`, dir), 'utf8')
    expect(onDisk).toBe(jsonSchemaText(schemas[kind] ?? {}))
  })

  it('publishes a strict object schema with the examples', () => {
    const scan = jsonSchemas().scan
    expect(scan).toMatchObject({ type: 'object', additionalProperties: false, required: ['v', 'ts', 'event', 'sku', 'qty', 'location'] })
    expect(scan.examples).toEqual(CONTRACTS.get('scan')?.examples)
  })

  it('README shows the first example of every kind, as published', () => {
    const readme = readFileSync(new URL('../gateway/contracts/README.md', import.meta.url), 'utf8')
    for (const kind of MESSAGE_KINDS) expect(readme).toContain(JSON.stringify(CONTRACTS.get(kind)?.examples[0]))
  })
})
