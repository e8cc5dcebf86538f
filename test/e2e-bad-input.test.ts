/**
 * Bad input end to end: one row per kind of bad message, published by a real mqtt.js device to the
 * running gateway. Our promise for each: the device gets its PUBACK and, on
 * `stockyard/v1/{site}/{id}/errors`, `{code, message, topic, seq}`; `/metrics` counts the code; the
 * dead-letter log (HTTP and the SQLite table) holds the row; nothing of the message is stored; the
 * device stays connected. Meanwhile another device publishing valid readings at a steady pace is
 * served in full.
 */
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RejectionCode } from '../gateway/core/records.ts'
import type { DeadLetter } from '../gateway/store/types.ts'
import { connectDevice, startTestGateway, topicOf, type TestGateway } from './helpers/gateway.ts'
import { closedWithin, deadLetterRows, getJson, Inbox, publishAcked, scrapeMetric, startSteadyPublisher, waitFor } from './helpers/e2e.ts'

const SITE = 'test'
const BAD = 'bad-01'
const GOOD = 'good-01'
const HOUR = 3_600_000
const DAY = 24 * HOUR

const own = (kind: string): string => topicOf(SITE, BAD, kind)
const reading = (fields: Record<string, unknown>): string => JSON.stringify({ v: 1, ts: Date.now(), metrics: { temperature_c: 4.2 }, ...fields })
/** JSON text nesting `levels` arrays deep inside the metrics object. */
const nested = (levels: number): string => `{"v":1,"ts":${Date.now()},"seq":21,"metrics":{"temperature_c":${'['.repeat(levels)}1${']'.repeat(levels)}}}`
/** A topic under the device's own prefix with `levels` levels in all. */
const levelsDeep = (levels: number): string => own('reading') + '/x'.repeat(levels - 5)

interface Case {
  name: string
  code: RejectionCode
  topic?: string
  payload: () => string | Buffer
  /** The `seq` the refusal reports: the message's own when it could be read, else null. */
  seq: number | null
  /** What the refusal's message must say, beyond naming the code. */
  says?: RegExp
  /** Sent (and accepted) first; the row's payload is then refused because of it. */
  before?: () => string
}

// One timestamp for the duplicate row, so the resend carries the same (seq, ts).
const dupTs = Date.now() - 60_000

const CASES: Case[] = [
  { name: 'non-JSON text', code: 'payload.not_json', payload: () => 'temperature_c=4.2', seq: null, says: /not valid JSON/ },
  { name: 'bytes that are not UTF-8', code: 'payload.not_json', payload: () => Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), seq: null, says: /UTF-8/ },
  { name: 'an empty payload', code: 'payload.not_json', payload: () => '', seq: null, says: /empty/ },
  { name: 'a NaN literal', code: 'payload.not_json', payload: () => `{"v":1,"ts":${Date.now()},"seq":1,"metrics":{"temperature_c":NaN}}`, seq: null },
  {
    name: 'a metric that is a string (wrong type)',
    code: 'payload.invalid',
    payload: () => reading({ seq: 2, metrics: { temperature_c: 'hot' } }),
    seq: 2,
    says: /metrics\.temperature_c: expected a finite number, got string "hot"/,
  },
  { name: 'ts that is a boolean (wrong type)', code: 'payload.invalid', payload: () => reading({ seq: 3, ts: true }), seq: 3, says: /^ts: / },
  { name: 'seq that is a string (wrong type)', code: 'payload.invalid', payload: () => reading({ seq: '4' }), seq: null, says: /seq: / },
  {
    name: 'a missing ts (missing field)',
    code: 'payload.invalid',
    payload: () => JSON.stringify({ v: 1, seq: 5, metrics: { temperature_c: 1 } }),
    seq: 5,
    says: /ts: missing/,
  },
  {
    name: 'missing metrics (missing field)',
    code: 'payload.invalid',
    payload: () => JSON.stringify({ v: 1, seq: 6, ts: Date.now() }),
    seq: 6,
    says: /metrics: missing/,
  },
  { name: 'a top-level array', code: 'payload.invalid', payload: () => '[1,2,3]', seq: null, says: /top level/ },
  {
    name: 'an unknown kind (last topic level)',
    code: 'payload.unknown_kind',
    topic: own('telemetry'),
    payload: () => reading({ seq: 7 }),
    seq: 7,
    says: /reading, scan, shipment, status/,
  },
  { name: 'an unsupported contract version', code: 'payload.unsupported_version', payload: () => reading({ v: 2, seq: 8 }), seq: 8 },
  {
    name: 'a 1 MiB payload',
    code: 'payload.too_large',
    payload: () => reading({ seq: 9, pad: 'x'.repeat(1024 * 1024) }),
    seq: null,
    says: /limit is 65536 bytes/,
  },
  { name: 'nesting one level past ingest.maxDepth', code: 'payload.too_deep', payload: () => nested(7), seq: 21, says: /deeper than 8 levels/ },
  { name: 'nesting 30,000 levels deep', code: 'payload.too_deep', payload: () => nested(30_000), seq: 21 },
  {
    name: '1e999 (parses as Infinity)',
    code: 'payload.invalid',
    payload: () => `{"v":1,"ts":${Date.now()},"seq":10,"metrics":{"temperature_c":1e999}}`,
    seq: 10,
    says: /1e999/,
  },
  {
    name: '-1e999 (parses as -Infinity)',
    code: 'payload.invalid',
    payload: () => `{"v":1,"ts":${Date.now()},"seq":11,"metrics":{"temperature_c":-1e999}}`,
    seq: 11,
  },
  {
    name: 'a timestamp an hour in the future',
    code: 'ts.future',
    payload: () => reading({ seq: 12, ts: Date.now() + HOUR }),
    seq: 12,
    says: /ahead of the gateway clock/,
  },
  { name: 'a timestamp 8 days old', code: 'ts.past', payload: () => reading({ seq: 13, ts: Date.now() - 8 * DAY }), seq: 13, says: /behind the gateway clock/ },
  {
    name: 'a timestamp in epoch seconds',
    code: 'ts.past',
    payload: () => reading({ seq: 14, ts: Math.floor(Date.now() / 1000) }),
    seq: 14,
    says: /epoch seconds/,
  },
  {
    name: 'the same seq and ts sent twice (the second is refused)',
    code: 'seq.duplicate',
    before: () => reading({ seq: 15, ts: dupTs }),
    payload: () => reading({ seq: 15, ts: dupTs }),
    seq: 15,
    says: /already stored/,
  },
  {
    name: 'a batch with one bad element (nothing of it is stored)',
    code: 'payload.invalid',
    payload: () =>
      JSON.stringify({
        v: 1,
        readings: [
          { ts: Date.now(), seq: 16, metrics: { temperature_c: 1 } },
          { ts: Date.now(), seq: 17, metrics: { temperature_c: 'x' } },
        ],
      }),
    seq: 16,
    says: /readings\[1\]\.metrics\.temperature_c/,
  },
  {
    name: 'a scan with a negative qty (no event stored)',
    code: 'payload.invalid',
    topic: own('scan'),
    payload: () => JSON.stringify({ v: 1, ts: Date.now(), event: 'pick', sku: 'SKU-1', qty: -1, location: 'A-01', seq: 18 }),
    seq: 18,
    says: /qty/,
  },
  {
    name: 'a topic with too many levels (9)',
    code: 'topic.too_many_levels',
    topic: levelsDeep(9),
    payload: () => reading({ seq: 19 }),
    seq: null,
    says: /ingest\.maxTopicLevels/,
  },
  {
    name: 'a topic with 99 levels (under the broker’s own ceiling of 100)',
    code: 'topic.too_many_levels',
    topic: levelsDeep(99),
    payload: () => reading({ seq: 19 }),
    seq: null,
  },
  {
    name: 'a topic of the wrong shape',
    code: 'topic.invalid',
    topic: own('reading') + '/extra',
    payload: () => reading({ seq: 20 }),
    seq: null,
    says: /stockyard\/v1\/\{site\}\/\{deviceId\}\/\{kind\}/,
  },
  { name: 'another device’s topic', code: 'topic.not_allowed', topic: topicOf(SITE, GOOD, 'reading'), payload: () => reading({ seq: 22 }), seq: null },
  { name: 'a reserved $ topic', code: 'topic.not_allowed', topic: '$SYS/broker/hack', payload: () => reading({ seq: 24 }), seq: null },
  { name: 'another site’s topic', code: 'topic.not_allowed', topic: topicOf('elsewhere', BAD, 'reading'), payload: () => reading({ seq: 23 }), seq: null },
]

let gw: TestGateway
let viewer: string
let bad: MqttClient
let good: MqttClient
let badErrors: Inbox
let goodErrors: Inbox
let badCloses = 0
let steady: ReturnType<typeof startSteadyPublisher>

beforeAll(async () => {
  gw = await startTestGateway()
  viewer = gw.token('viewer')
  const badCreds = await gw.addDevice(BAD)
  const goodCreds = await gw.addDevice(GOOD)
  bad = await connectDevice(gw.ports.mqtt, badCreds)
  bad.on('close', () => badCloses++)
  good = await connectDevice(gw.ports.mqtt, goodCreds)
  badErrors = await Inbox.open(bad, own('errors'))
  goodErrors = await Inbox.open(good, topicOf(SITE, GOOD, 'errors'))
  steady = startSteadyPublisher(good, topicOf(SITE, GOOD, 'reading'), 10)
})

afterAll(async () => {
  await steady?.stop()
  await Promise.all([bad?.endAsync(true), good?.endAsync(true)])
  await gw?.dispose()
})

describe('a device sending bad input', () => {
  it.each(CASES)('refuses $name with $code, explains it, counts it, dead-letters it and stores nothing', async (c) => {
    const topic = c.topic ?? own('reading')
    if (c.before) {
      await publishAcked(bad, topic, c.before())
      expect(badErrors.unread, 'the first of the pair is accepted').toBe(0)
    }
    const stored = { points: gw.store.series.countPoints({ device: BAD }), events: gw.store.series.countEvents({ device: BAD }) }
    const counted = await scrapeMetric(gw, viewer, 'stockyard_rejections_total', { reason: c.code })
    const rows = deadLetterRows(gw, { code: c.code, device: BAD }).length

    // The PUBACK comes after the refusal is committed to the dead-letter table.
    await publishAcked(bad, topic, c.payload())

    expect(await badErrors.next()).toEqual({ code: c.code, message: expect.stringMatching(c.says ?? /\S/), topic, seq: c.seq })
    expect(await scrapeMetric(gw, viewer, 'stockyard_rejections_total', { reason: c.code })).toBe(counted + 1)

    const api = await getJson<{ rejections: DeadLetter[] }>(gw, `/api/v1/rejections?code=${c.code}&device=${BAD}&limit=1`, viewer)
    expect(api.rejections[0]).toMatchObject({ code: c.code, device: BAD, topic, seq: c.seq })
    const table = deadLetterRows(gw, { code: c.code, device: BAD })
    expect(table).toHaveLength(rows + 1)
    expect(table.at(-1)).toMatchObject({ code: c.code, device: BAD, topic, seq: c.seq, id: api.rejections[0]!.id })
    expect(table.at(-1)!.sample.length).toBeLessThanOrEqual(1024)

    expect(gw.store.series.countPoints({ device: BAD })).toBe(stored.points)
    expect(gw.store.series.countEvents({ device: BAD })).toBe(stored.events)
    expect(bad.connected).toBe(true)
    expect(badErrors.unread).toBe(0)
  })

  it('kept the bad device connected through every row, and stored exactly its valid messages', () => {
    expect(badCloses).toBe(0)
    expect(bad.connected).toBe(true)
    const accepted = CASES.filter((c) => c.before).length
    expect(gw.store.series.countPoints({ device: BAD })).toBe(accepted)
    expect(gw.store.series.countEvents({ device: BAD })).toBe(0)
  })

  it('served the steady device throughout: every reading acknowledged and stored, none refused', async () => {
    const r = await steady.stop()
    expect(r.sent).toBeGreaterThan(50)
    expect(r.failed).toBe(0)
    expect(r.acked).toBe(r.sent)
    expect(gw.store.series.countPoints({ device: GOOD })).toBe(r.acked)
    expect(goodErrors.messages).toEqual([])
    expect(deadLetterRows(gw, { device: GOOD })).toEqual([])
  })
})

describe('a topic past the broker’s hard ceiling of 100 levels', () => {
  it('closes only that connection (aedes refuses it before our hooks); the gateway keeps serving and the device can reconnect', async () => {
    const creds = await gw.addDevice('deep-01')
    const deep = await connectDevice(gw.ports.mqtt, creds)
    deep.publish(topicOf(SITE, creds.id, 'reading') + '/x'.repeat(200), reading({ seq: 1 }), { qos: 1 })
    expect(await closedWithin(deep, 3000)).toBe(true)
    deep.end(true)
    const again = await connectDevice(gw.ports.mqtt, creds)
    await publishAcked(again, topicOf(SITE, creds.id, 'reading'), reading({ seq: 2 }))
    expect(gw.store.series.countPoints({ device: creds.id })).toBe(1)
    expect(await waitFor(async () => (await scrapeMetric(gw, viewer, 'stockyard_mqtt_connected_clients')) >= 1)).toBe(true)
    await again.endAsync()
  })
})
