/** Duplicate detection drops exactly the duplicate elements of a batch, nothing more and nothing less. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, startTestGateway, topicOf, type TestGateway } from './helpers/gateway.ts'
import { deadLetterRows, publishAcked } from './helpers/e2e.ts'

let gw: TestGateway
beforeAll(async () => {
  gw = await startTestGateway()
})
afterAll(() => gw?.dispose())

async function publishBatch(id: string, readings: unknown[]): Promise<void> {
  const creds = await gw.addDevice(id)
  const client = await connectDevice(gw.ports.mqtt, creds)
  await publishAcked(client, topicOf('test', id, 'reading'), JSON.stringify({ v: 1, readings }))
  await client.endAsync()
}

describe('duplicate elements in a readings batch', () => {
  it('stores two identical elements of one message once, and refuses the second as seq.duplicate', async () => {
    const ts = Date.now()
    await publishBatch('dup-twin', [
      { ts, seq: 1, metrics: { t: 1 } },
      { ts, seq: 1, metrics: { t: 1 } },
    ])
    expect(gw.store.series.countPoints({ device: 'dup-twin' })).toBe(1)
    expect(deadLetterRows(gw, { device: 'dup-twin', code: 'seq.duplicate' })).toHaveLength(1)
  })

  it('keeps an element without seq that shares its ts with a duplicate element', async () => {
    const ts = Date.now()
    await publishBatch('dup-share', [
      { ts, seq: 5, metrics: { t: 1 } },
      { ts, seq: 5, metrics: { t: 2 } },
      { ts, metrics: { u: 3 } },
    ])
    expect(gw.store.series.countPoints({ device: 'dup-share', metric: 't' })).toBe(1)
    expect(gw.store.series.countPoints({ device: 'dup-share', metric: 'u' })).toBe(1)
  })

  it('stores a new element that shares its ts with a resent one', async () => {
    const ts = Date.now()
    const creds = await gw.addDevice('dup-resend')
    const client = await connectDevice(gw.ports.mqtt, creds)
    const topic = topicOf('test', 'dup-resend', 'reading')
    await publishAcked(client, topic, JSON.stringify({ v: 1, readings: [{ ts, seq: 1, metrics: { t: 1 } }] }))
    await publishAcked(
      client,
      topic,
      JSON.stringify({
        v: 1,
        readings: [
          { ts, seq: 1, metrics: { t: 1 } },
          { ts, seq: 2, metrics: { t: 2 } },
        ],
      }),
    )
    await client.endAsync()
    expect(gw.store.series.countPoints({ device: 'dup-resend' })).toBe(2)
    expect(deadLetterRows(gw, { device: 'dup-resend', code: 'seq.duplicate' })).toHaveLength(1)
  })
})
