/**
 * What the built-in dashboards stand on, through a real gateway: the definitions served from
 * `dashboards.dir` (an added panel shows without a restart; a broken file keeps the last valid set
 * and says why; an invalid set refuses the start), the login that gives a session cookie (with the
 * CSRF header for changes), and the live feed: an alert raised by an MQTT message arrives as a
 * server-sent event within a second.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { publishAcked, REPO_ROOT } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

const PACK = `
version: 1
rules:
  - id: cold-room-warm
    condition: { kind: threshold, metric: temperature_c, select: { zone: 'cold-*' }, window: { type: sliding, size: 1m }, agg: max, op: '>', value: 8 }
    severity: critical
    annotations: { summary: 'cold room at {{ value }} °C' }
    notify: [bus]
`

let gw: TestGateway
let dashboards: string
let env: MqttClient

beforeAll(async () => {
  dashboards = tempDir('stockyard-pages-')
  cpSync(join(REPO_ROOT, 'dashboards'), dashboards, { recursive: true, filter: (src) => !src.includes('grafana') })
  const rules = tempDir('stockyard-pages-rules-')
  writeFileSync(join(rules, 'cold.yaml'), PACK)
  gw = await startTestGateway({ dashboards: { dir: dashboards }, rules: { dir: rules, watch: false } })
  env = await connectDevice(gw.ports.mqtt, await gw.addDevice('env-cold-1', { kind: 'env', zone: 'cold-room' }))
})

afterAll(async () => {
  env?.end(true)
  await gw?.dispose()
})

const bearer = (role: 'viewer' | 'admin') => ({ authorization: `Bearer ${gw.token(role)}` })

async function pages(): Promise<{ dashboards: Array<{ id: string; panels: Array<{ id: string }> }>; errors: string[] }> {
  const res = await fetch(gw.url('/api/v1/dashboards'), { headers: bearer('viewer') })
  expect(res.status).toBe(200)
  return (await res.json()) as { dashboards: Array<{ id: string; panels: Array<{ id: string }> }>; errors: string[] }
}

describe('dashboard definitions over the API', () => {
  it('serves the pages in order; a panel added to a file shows on the next request, with no restart', async () => {
    expect((await pages()).dashboards.map((d) => d.id)).toEqual(['overview', 'stock', 'shipments', 'environment', 'alerts', 'devices'])
    const file = join(dashboards, 'devices.json')
    const def = JSON.parse(readFileSync(file, 'utf8')) as { panels: unknown[] }
    def.panels.push({
      id: 'battery',
      type: 'table',
      title: 'Batteries',
      grid: { x: 0, y: 10, w: 12, h: 3 },
      query: { path: '/api/v1/devices' },
      rows: 'devices',
      columns: [{ field: 'battery', title: 'Battery' }],
    })
    writeFileSync(file, JSON.stringify(def))
    const devices = (await pages()).dashboards.find((d) => d.id === 'devices')!
    expect(devices.panels.map((p) => p.id)).toContain('battery')
  })

  it('a file broken while running keeps the last valid set and lists what is wrong', async () => {
    const file = join(dashboards, 'alerts.json')
    const good = readFileSync(file, 'utf8')
    writeFileSync(file, good.replace('"alertlist"', '"pie"'))
    try {
      const r = await pages()
      expect(r.dashboards.map((d) => d.id)).toContain('alerts')
      expect(r.errors.join('\n')).toMatch(/alerts\.json: panels\[0\] \(open\)\.type: unknown panel type "pie"/)
    } finally {
      writeFileSync(file, good)
    }
    expect((await pages()).errors).toEqual([])
  })

  it('refuses to start with an invalid definition, naming the file, the panel and the field', async () => {
    const bad = tempDir('stockyard-bad-pages-')
    writeFileSync(
      join(bad, 'oops.json'),
      JSON.stringify({
        version: 1,
        id: 'oops',
        title: 'Oops',
        panels: [{ id: 'x', type: 'stat', title: 'X', grid: { x: 0, y: 0, w: 2, h: 2 }, query: { path: '/api/v1/nothing' }, value: { count: 'x' } }],
      }),
    )
    await expect(startTestGateway({ dashboards: { dir: bad } })).rejects.toThrow(
      /dashboard definitions in .* are invalid:\n {2}.*oops\.json: panels\[0\] \(x\)\.query\.path: \/api\/v1\/nothing matches no GET route/,
    )
  })
})

describe('session login', () => {
  async function login(role: 'viewer' | 'admin'): Promise<string> {
    const res = await fetch(gw.url('/api/v1/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: gw.token(role) }),
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ role })
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/^stockyard_session=[^;]+;.*HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Strict/i)
    return cookie.split(';')[0]!
  }

  it('a viewer token logs in; the cookie then reads like the token, and a wrong token is refused', async () => {
    const cookie = await login('viewer')
    expect((await fetch(gw.url('/api/v1/alerts'), { headers: { cookie } })).status).toBe(200)
    expect(await (await fetch(gw.url('/api/v1/session'), { headers: { cookie } })).json()).toMatchObject({ role: 'viewer' })
    // The viewer's cookie cannot acknowledge (role), with or without the CSRF header.
    const ack = await fetch(gw.url('/api/v1/alerts/0123456789abcdef/ack'), { method: 'POST', headers: { cookie, 'x-stockyard-csrf': '1' } })
    expect(ack.status).toBe(403)
    const wrong = await fetch(gw.url('/api/v1/session'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'sy_nope' }),
    })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
  })

  it("a change with an admin's cookie needs the CSRF header; logging out clears the cookie", async () => {
    const cookie = await login('admin')
    const without = await fetch(gw.url('/api/v1/alerts/0123456789abcdef/ack'), { method: 'POST', headers: { cookie } })
    expect(without.status).toBe(403)
    expect(await without.text()).toMatch(/x-stockyard-csrf/)
    // Past the access check: no such alert.
    expect((await fetch(gw.url('/api/v1/alerts/0123456789abcdef/ack'), { method: 'POST', headers: { cookie, 'x-stockyard-csrf': '1' } })).status).toBe(404)
    const out = await fetch(gw.url('/api/v1/session'), { method: 'DELETE', headers: { cookie } })
    expect(out.headers.get('set-cookie')).toMatch(/stockyard_session=;.*Max-Age=0/i)
    expect((await fetch(gw.url('/api/v1/alerts'))).status).toBe(401)
  })
})

describe('live feed', () => {
  it('an alert raised by an MQTT message arrives as an event within a second, with a data tick', async () => {
    const controller = new AbortController()
    const res = await fetch(gw.url('/api/v1/live'), { headers: bearer('viewer'), signal: controller.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    const until = async (re: RegExp, ms: number): Promise<boolean> => {
      const end = Date.now() + ms
      while (!re.test(text) && Date.now() < end) {
        const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), end - Date.now()))])
        if (chunk === null || chunk.done) break
        text += decoder.decode(chunk.value, { stream: true })
      }
      return re.test(text)
    }
    try {
      expect(await until(/event: hello/, 2000)).toBe(true)
      const sent = Date.now()
      await publishAcked(env, topicOf('test', 'env-cold-1', 'reading'), JSON.stringify({ v: 1, ts: Date.now(), metrics: { temperature_c: 11.5 } }))
      expect(await until(/event: alert\ndata: \{"event":"firing"[^\n]*"rule":"cold-room-warm"/, 1000)).toBe(true)
      expect(Date.now() - sent).toBeLessThan(1000)
      expect(await until(/event: data\ndata: \{"at":\d+,"kinds":\{[^}]*"reading":1/, 1000)).toBe(true)
    } finally {
      controller.abort()
    }
  })
})
