/**
 * The built-in dashboards in a real browser: Debian's Chromium driven by playwright-core against a real
 * gateway on 127.0.0.1. It logs in through the form with a viewer token, loads every page of the
 * definitions with no console errors, sees on the overview an alert raised by an MQTT message sent
 * after the page loaded within a second, acknowledges it from the alerts page as admin, and sees a
 * panel added to a definition file after a reload. Screenshots of each page go to test-results/ui/.
 *
 * Under CI=true a missing /usr/bin/chromium fails the suite (.ci/run installs it); elsewhere the suite
 * is skipped, and its name says why.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { Hono } from 'hono'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { notFound, onError } from '../gateway/http/errors.ts'
import { mountUiAssets } from '../gateway/http/ui-assets.ts'
import { publishAcked, REPO_ROOT } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(REPO_ROOT, 'test-results', 'ui')

/** True if Chromium is installed; under CI=true its absence fails the suite instead of skipping it. */
function requireChromium(): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is not installed but CI=true requires it: apt-get install chromium (see .ci/run)`)
  return false
}
const HAVE_CHROMIUM = requireChromium()

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
let browser: Browser
let page: Page
/**
 * Console errors, uncaught exceptions and API answers of 400 or above since the last `takeErrors()`.
 * Chromium also logs each such answer to the console ("Failed to load resource"); that line is left out
 * as the answer itself is listed, as `HTTP 404 GET /api/v1/…`, so a test can name the ones it expects.
 */
let errors: string[] = []
let pageIds: string[] = []

function takeErrors(expected: RegExp[] = []): string[] {
  const e = errors.filter((line) => !expected.some((re) => re.test(line)))
  errors = []
  return e
}
/** The login: GET /api/v1/session before it, and a wrong token. */
const LOGIN_401 = /^HTTP 401 (GET|POST) \/api\/v1\/session$/

/** Wait until page `id` is shown and each of its `count` panels has drawn something (data, "no data" or its error). */
async function panelsDrawn(p: Page, id: string, count: number): Promise<void> {
  await p.waitForFunction(
    ([id, n]) => {
      const bodies = [...document.querySelectorAll(`.grid[data-page="${id}"] .panel-body`)]
      return document.querySelectorAll('.grid').length === 1 && bodies.length === n && bodies.every((b) => b.childElementCount > 0)
    },
    [id, count] as const,
    { timeout: 10_000 },
  )
}

async function logIn(p: Page, token: string): Promise<void> {
  await p.locator('#login #token').fill(token)
  await p.locator('#login button[type=submit]').click()
  await p.locator('#nav a').first().waitFor({ timeout: 5000 })
}

async function definitions(): Promise<Array<{ id: string; panels: unknown[] }>> {
  const res = await fetch(gw.url('/api/v1/dashboards'), { headers: { authorization: `Bearer ${gw.token('viewer')}` } })
  return ((await res.json()) as { dashboards: Array<{ id: string; panels: unknown[] }> }).dashboards
}

const reading = (temperature: number, ts = Date.now()): string => JSON.stringify({ v: 1, ts, metrics: { temperature_c: temperature, humidity_pct: 61 } })

describe.skipIf(!HAVE_CHROMIUM)(
  HAVE_CHROMIUM ? 'dashboards UI in Chromium' : `dashboards UI in Chromium (SKIPPED: ${CHROMIUM} is not installed; apt-get install chromium)`,
  () => {
    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true })
      dashboards = tempDir('stockyard-ui-pages-')
      cpSync(join(REPO_ROOT, 'dashboards'), dashboards, { recursive: true, filter: (src) => !src.includes('grafana') })
      const rules = tempDir('stockyard-ui-rules-')
      writeFileSync(join(rules, 'cold.yaml'), PACK)
      // Three weeks of buffered picks are accepted, so the stock page has a real forecast to draw.
      gw = await startTestGateway({ dashboards: { dir: dashboards }, rules: { dir: rules, watch: false }, ingest: { maxPastAgeMs: 30 * 86_400_000 } })
      env = await connectDevice(gw.ports.mqtt, await gw.addDevice('env-cold-1', { kind: 'env', zone: 'cold-room' }))
      // Something on every kind of panel: temperatures below the rule's threshold, two SKUs (one below its
      // reorder point), and a shipment past its ETA.
      for (let i = 5; i >= 1; i--) await publishAcked(env, topicOf('test', 'env-cold-1', 'reading'), reading(3 + i * 0.3, Date.now() - i * 60_000))
      const admin = { authorization: `Bearer ${gw.token('admin')}`, 'content-type': 'application/json' }
      for (const [sku, reorder_point] of [
        ['SKU-0001', 40],
        ['SKU-0002', 10],
      ] as const) {
        const res = await fetch(gw.url(`/api/v1/skus/${sku}`), {
          method: 'PUT',
          headers: admin,
          body: JSON.stringify({ reorder_point, safety_stock: 5, lead_time: '1d' }),
        })
        expect(res.status).toBe(200)
      }
      const scanner = await connectDevice(gw.ports.mqtt, await gw.addDevice('scan-dock-1', { kind: 'scanner', zone: 'dock' }))
      const tracker = await connectDevice(gw.ports.mqtt, await gw.addDevice('trk-1', { kind: 'tracker', zone: 'yard' }))
      const now = Date.now()
      // SKU-0001: 21 days of picks (about 10 a day), received so that 24 are left, below its reorder point of 40.
      const day = 86_400_000
      const picks = Array.from({ length: 21 }, (_, d) => 6 + ((d * 7) % 9))
      let seq = 0
      const scan = (body: Record<string, unknown>): string => JSON.stringify({ v: 1, seq: ++seq, location: 'A-01', ...body })
      await publishAcked(
        scanner,
        topicOf('test', 'scan-dock-1', 'scan'),
        scan({ ts: now - 22 * day, event: 'receive', sku: 'SKU-0001', qty: 24 + picks.reduce((a, b) => a + b, 0) }),
      )
      for (const [d, qty] of picks.entries()) {
        await publishAcked(scanner, topicOf('test', 'scan-dock-1', 'scan'), scan({ ts: now - (21 - d) * day, event: 'pick', sku: 'SKU-0001', qty }))
      }
      await publishAcked(
        scanner,
        topicOf('test', 'scan-dock-1', 'scan'),
        scan({ ts: now - 60_000, event: 'receive', sku: 'SKU-0002', qty: 30, location: 'A-02' }),
      )
      for (const [status, ago] of [
        ['released', 3_600_000],
        ['picked', 1_800_000],
      ] as const) {
        const msg = { v: 1, ts: now - ago, shipmentId: 'SH-1', status, eta: new Date(now - 600_000).toISOString() }
        await publishAcked(tracker, topicOf('test', 'trk-1', 'shipment'), JSON.stringify(msg))
      }
      scanner.end(true)
      tracker.end(true)
      const refit = await fetch(gw.url('/api/v1/analytics/refit?wait=true'), { method: 'POST', headers: { authorization: `Bearer ${gw.token('admin')}` } })
      expect(refit.status).toBe(200)
      pageIds = (await definitions()).map((d) => d.id)
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: 30_000,
      })
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
      page = await context.newPage()
      page.setDefaultTimeout(10_000)
      page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()} (${m.location().url})`)
      })
      page.on('response', (r) => {
        if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`)
      })
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
      // Every request stays on the gateway: nothing from a CDN.
      await context.route(
        (url) => url.hostname !== '127.0.0.1',
        (route) => {
          errors.push(`request off the gateway: ${route.request().url()}`)
          return route.abort()
        },
      )
    })

    afterAll(async () => {
      await browser?.close()
      env?.end(true)
      await gw?.dispose()
    })

    it('shows a login form; a wrong token is refused, a viewer token logs in', async () => {
      await page.goto(gw.url('/'))
      await page.locator('#login').waitFor()
      await page.locator('#login #token').fill('sy_not-a-token')
      await page.locator('#login button[type=submit]').click()
      await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/not valid/)
      await logIn(page, gw.token('viewer'))
      expect(await page.locator('#nav a').evaluateAll((as) => as.map((a) => a.getAttribute('data-page')))).toEqual(pageIds)
      expect(await page.locator('#who').textContent()).toMatch(/viewer/)
      expect(takeErrors([LOGIN_401])).toEqual([])
    })

    it('loads every page of the definitions with no console errors, and screenshots each', async () => {
      const defs = await definitions()
      expect(defs.length).toBeGreaterThanOrEqual(6)
      for (const def of defs) {
        await page.goto(gw.url(`/#/${def.id}`))
        await panelsDrawn(page, def.id, def.panels.length)
        expect(await page.locator(`#nav a.active`).getAttribute('data-page')).toBe(def.id)
        if (def.id === 'stock') {
          // The forecast of SKU-0001 drawn as a chart (history, forecast, interval band), its cover as a number.
          expect(await page.locator('[data-panel-id=forecast] .uplot').count()).toBe(1)
          expect(await page.locator('[data-panel-id=forecast] .caption').textContent()).toMatch(/^Fitted /)
          expect(Number((await page.locator('[data-panel-id=cover] .stat-value').textContent())?.replace(/[^0-9.]/g, ''))).toBeGreaterThan(0)
          expect(await page.locator('[data-panel-id=on-hand] .bar-row.below').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-sku')))).toEqual([
            'SKU-0001',
          ])
        }
        if (def.id === 'shipments') expect(await page.locator('[data-panel-id=timeline] tr.late[data-shipment=SH-1]').count()).toBe(1)
        await page.screenshot({ path: join(SHOTS, `${def.id}.png`), fullPage: true })
        expect(takeErrors([]), `page ${def.id}`).toEqual([])
      }
    })

    it('shows on the overview, within 1 s, a firing alert raised by an MQTT message sent after the page loaded', async () => {
      await page.goto(gw.url('/#/overview'))
      await panelsDrawn(page, 'overview', 7)
      await page.locator('#live[data-state=on]').waitFor({ timeout: 5000 })
      const firing = page.locator('[data-panel-id=firing] tr[data-rule=cold-room-warm][data-state=firing]')
      expect(await firing.count()).toBe(0)
      const sent = Date.now()
      await publishAcked(env, topicOf('test', 'env-cold-1', 'reading'), reading(11.5))
      await firing.waitFor({ timeout: 1000 })
      expect(Date.now() - sent).toBeLessThan(1000)
      // The KPI counts the critical alert too, and a viewer gets no buttons.
      await expect.poll(() => page.locator('[data-panel-id=critical-alerts] .stat').getAttribute('data-value'), { timeout: 2000 }).toBe('1')
      expect(await page.locator('[data-action=ack]').count()).toBe(0)
      await page.screenshot({ path: join(SHOTS, 'overview-firing.png'), fullPage: true })
      expect(takeErrors()).toEqual([])
    })

    it('an admin acknowledges the alert from the alerts page and sees its state change; silences it too', async () => {
      await page.locator('#logout').click()
      await page.locator('#login').waitFor()
      await logIn(page, gw.token('admin'))
      await page.goto(gw.url('/#/alerts'))
      await panelsDrawn(page, 'alerts', 2)
      const row = page.locator('[data-panel-id=open] tr[data-rule=cold-room-warm]')
      await expect.poll(() => row.locator('.alert-state').textContent()).toBe('firing')
      await row.locator('[data-action=ack]').click()
      await page.locator('[data-panel-id=open] tr.acked[data-rule=cold-room-warm]').waitFor({ timeout: 2000 })
      expect(await row.locator('.alert-state').textContent()).toMatch(/^firing · acknowledged by /)
      await row.locator('[data-action=silence]').click()
      await page.locator('.silence-form select[name=duration]').selectOption('4h')
      await page.locator('.silence-form input[name=comment]').fill('door left open, fixed')
      await page.locator('.silence-form button[type=submit]').click()
      await page.locator('[data-panel-id=silences] td', { hasText: 'door left open, fixed' }).waitFor({ timeout: 2000 })
      await expect.poll(() => row.locator('.badge.silenced').count()).toBe(1)
      await page.screenshot({ path: join(SHOTS, 'alerts-admin.png'), fullPage: true })
      expect(takeErrors()).toEqual([])
    })

    it('renders a panel added to a definition file after a reload, with no code change', async () => {
      const file = join(dashboards, 'devices.json')
      const def = JSON.parse(readFileSync(file, 'utf8')) as { panels: unknown[] }
      def.panels.push({
        id: 'batteries',
        type: 'table',
        title: 'Batteries',
        grid: { x: 0, y: 10, w: 6, h: 3 },
        query: { path: '/api/v1/devices' },
        rows: 'devices',
        columns: [
          { field: 'id', title: 'Device' },
          { field: 'battery', title: 'Battery %', format: 'number' },
        ],
      })
      writeFileSync(file, JSON.stringify(def))
      await page.goto(gw.url('/#/devices'))
      await page.reload()
      await panelsDrawn(page, 'devices', def.panels.length)
      const panel = page.locator('[data-panel-id=batteries]')
      expect(await panel.locator('h2').textContent()).toBe('Batteries')
      expect(await panel.locator('td', { hasText: 'env-cold-1' }).count()).toBe(1)
      await page.screenshot({ path: join(SHOTS, 'devices-added-panel.png'), fullPage: true })
      expect(takeErrors()).toEqual([])
    })

    it('collapses the grid on a 10-inch tablet held upright, in the dark theme', async () => {
      await page.setViewportSize({ width: 800, height: 1280 })
      await page.emulateMedia({ colorScheme: 'dark' })
      await page.goto(gw.url('/#/overview'))
      await panelsDrawn(page, 'overview', 7)
      const columns = await page.locator('.grid').evaluate((g) => getComputedStyle(g).gridTemplateColumns.split(' ').length)
      expect(columns).toBe(2)
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
      expect(bg).toBe('rgb(18, 21, 27)')
      await page.screenshot({ path: join(SHOTS, 'overview-tablet-dark.png'), fullPage: true })
      expect(takeErrors()).toEqual([])
    })
  },
)

describe('the UI files over HTTP (GET / and /ui/*)', () => {
  const app = new Hono()
  mountUiAssets(app)
  app.notFound(notFound)
  app.onError(onError(undefined))

  it('serves the page, its modules and uPlot from node_modules with their content types and cache headers', async () => {
    const index = await app.request('/')
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(index.headers.get('cache-control')).toBe('no-cache')
    expect(index.headers.get('content-security-policy')).toMatch(/default-src 'self'/)
    const html = await index.text()
    expect(html).toContain('/ui/app.js')
    expect(html).not.toMatch(/https?:\/\//)
    const js = await app.request('/ui/panels/index.js')
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const uplot = await app.request('/ui/vendor/uplot.esm.js')
    expect(uplot.status).toBe(200)
    expect(uplot.headers.get('cache-control')).toBe('public, max-age=86400')
    expect((await app.request('/ui/vendor/uplot.min.css')).headers.get('content-type')).toBe('text/css; charset=utf-8')
    const again = await app.request('/ui/app.css', { headers: { 'if-none-match': (await app.request('/ui/app.css')).headers.get('etag')! } })
    expect(again.status).toBe(304)
  })

  it.each([
    '/ui/../http/index.ts',
    '/ui/%2e%2e/http/index.ts',
    '/ui/panels/%2e%2e%2f..%2fhttp/ui-assets.ts',
    '/ui/..%5chttp%5cindex.ts',
    '/ui/.hidden',
    '/ui/',
    '/ui/vendor/uPlot.cjs.js',
    '/ui/nope.js',
  ])('refuses %s with 404', async (path) => {
    const res = await app.request(path)
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } })
  })
})
