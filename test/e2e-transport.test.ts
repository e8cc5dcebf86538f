/** MQTT over TLS from cert files, and the hard packet-size cap. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  )
  return { cert, key }
}

describe('MQTT transports', () => {
  let gw: TestGateway
  let ca: Buffer
  beforeAll(async () => {
    const certs = selfSignedCert(tempDir('stockyard-tls-'))
    ca = readFileSync(certs.cert)
    gw = await startTestGateway({ mqtt: { tls: { port: 0, ...certs }, maxPayloadBytes: 65536, maxPacketBytes: 1024 * 1024 } })
  })
  afterAll(() => gw.dispose())

  it('accepts a device over TLS (mqtts) with the certificate from config and stores its reading', async () => {
    expect(gw.ports.tls).toBeGreaterThan(0)
    const creds = await gw.addDevice('tls-1')
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.ports.tls}`, {
      clientId: creds.id,
      username: creds.username,
      password: creds.password,
      ca,
      reconnectPeriod: 0,
    })
    await client.publishAsync(topicOf('test', 'tls-1', 'reading'), JSON.stringify({ v: 1, ts: Date.now(), metrics: { temperature_c: 4 }, seq: 1 }), { qos: 1 })
    await client.endAsync()
    expect(gw.store.series.countPoints({ device: 'tls-1' })).toBe(1)
  })

  it('closes the connection of a client whose packet exceeds mqtt.maxPacketBytes, and keeps serving others', async () => {
    const big = await gw.addDevice('big-1')
    const other = await gw.addDevice('other-1')
    const bigClient = await connectDevice(gw.ports.mqtt, big)
    const otherClient = await connectDevice(gw.ports.mqtt, other)
    const closed = new Promise<void>((resolve) => bigClient.once('close', () => resolve()))
    bigClient.publish(topicOf('test', 'big-1', 'reading'), Buffer.alloc(2 * 1024 * 1024, 0x20), { qos: 1 })
    await closed
    await otherClient.publishAsync(topicOf('test', 'other-1', 'reading'), JSON.stringify({ v: 1, ts: Date.now(), metrics: { t: 1 }, seq: 1 }), { qos: 1 })
    expect(gw.store.series.countPoints({ device: 'other-1' })).toBe(1)
    expect(gw.store.series.countPoints({ device: 'big-1' })).toBe(0)
    bigClient.end(true)
    await otherClient.endAsync()
  })
})
