/**
 * The Node-RED editor through the gateway, in a real browser (Debian's Chromium driven by
 * playwright-core): an admin logs in to the dashboards, follows the Flows link to /red/, and the editor
 * loads over the gateway's proxy with its session cookie, with its WebSocket (comms) connected, no
 * console errors, no request leaving 127.0.0.1, and every node of the shipped flows of a known type.
 * A viewer gets no Flows link. A screenshot of each shipped tab goes to test-results/nodered/ (the
 * README's pictures of the flows are these).
 *
 * Under CI=true a missing /usr/bin/chromium fails the suite (.ci/run installs it); elsewhere the suite
 * is skipped, and its name says why.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, within } from './helpers/e2e.ts'
import { startTestGateway, type TestGateway } from './helpers/gateway.ts'

const CHROMIUM = '/usr/bin/chromium'
const SHOTS = join(REPO_ROOT, 'test-results', 'nodered')

function requireChromium(): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is not installed but CI=true requires it: apt-get install chromium (see .ci/run)`)
  return false
}
const HAVE_CHROMIUM = requireChromium()

let gw: TestGateway
let browser: Browser
let errors: string[] = []

async function openContext(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  page.on('console', (m) => {
    // A failed request is also logged to the console; it is listed (or expected) as its response below.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  page.on('response', (r) => {
    // The dashboards' login page asks for the session first (401 before logging in).
    if (r.status() >= 400 && !(r.status() === 401 && new URL(r.url()).pathname === '/api/v1/session')) {
      errors.push(`HTTP ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`)
    }
  })
  await context.route(
    (url) => url.hostname !== '127.0.0.1',
    (route) => {
      errors.push(`request off the gateway: ${route.request().url()}`)
      return route.abort()
    },
  )
  return { context, page }
}

async function logIn(page: Page, token: string): Promise<void> {
  await page.goto(gw.url('/'))
  await page.locator('#login #token').fill(token)
  await page.locator('#login button[type=submit]').click()
  await page.locator('#nav a').first().waitFor()
}

describe.skipIf(!HAVE_CHROMIUM)(
  HAVE_CHROMIUM ? 'Node-RED editor in Chromium' : `Node-RED editor in Chromium (SKIPPED: ${CHROMIUM} is not installed; apt-get install chromium)`,
  () => {
    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true })
      gw = await startTestGateway({ nodeRed: { enabled: true, flowsDir: join(REPO_ROOT, 'flows') } })
      await within(gw.nodeRed!.ready(), 30_000, 'Node-RED started')
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: 30_000,
      })
    }, 60_000)

    afterAll(async () => {
      await browser?.close()
      await gw?.dispose()
    })

    it('a viewer gets no Flows link, and /red/ answers it 403', async () => {
      const { context, page } = await openContext()
      await logIn(page, gw.token('viewer'))
      expect(await page.locator('#nav-flows').count()).toBe(0)
      const res = await page.goto(gw.url('/red/'))
      expect(res?.status()).toBe(403)
      errors = []
      await context.close()
    })

    it('an admin opens the editor from the dashboards: comms connected, every shipped tab with known nodes, no errors', async () => {
      const { context, page } = await openContext()
      const comms = new Promise<number>((resolve) =>
        page.on('websocket', (ws) => {
          if (new URL(ws.url()).pathname === '/red/comms') ws.once('framereceived', () => resolve(Date.now()))
        }),
      )
      await logIn(page, gw.token('admin'))
      await page.locator('#nav-flows').click()
      await page.waitForURL(/\/red\/$/)
      await page.locator('#red-ui-workspace-chart svg').waitFor()
      await within(comms, 15_000, 'a frame over the editor WebSocket')
      // The editor has loaded the flows: one tab per shipped file.
      await page.waitForFunction(() => (window as unknown as { RED?: { nodes: { eachWorkspace(cb: (w: unknown) => void): void } } }).RED?.nodes !== undefined)
      const tabs = await page.evaluate(() => {
        const RED = (window as unknown as { RED: { nodes: { eachWorkspace(cb: (w: { id: string; label: string }) => void): void } } }).RED
        const out: Array<{ id: string; label: string }> = []
        RED.nodes.eachWorkspace((w) => out.push({ id: w.id, label: w.label }))
        return out
      })
      expect(tabs.map((t) => t.id).sort()).toEqual(['alert-routing-tab', 'escalation-tab', 'shift-report-tab', 'wms-bridge-tab'])
      // No node is of a type the palette lacks (the editor draws those as "unknown").
      const unknown = await page.evaluate(() => {
        const RED = (window as unknown as { RED: { nodes: { eachNode(cb: (n: { id: string; type: string }) => void): void; getType(t: string): unknown } } })
          .RED
        const out: string[] = []
        RED.nodes.eachNode((n) => {
          if (!RED.nodes.getType(n.type)) out.push(`${n.id}: ${n.type}`)
        })
        return out
      })
      expect(unknown).toEqual([])
      // The pictures show the flows alone: palette and sidebar folded away.
      await page.evaluate(() => {
        const RED = (window as unknown as { RED: { actions: { invoke(name: string, ...args: unknown[]): void } } }).RED
        RED.actions.invoke('core:toggle-sidebar', false)
        RED.actions.invoke('core:toggle-palette', false)
      })
      for (const t of tabs) {
        await page.evaluate((id) => (window as unknown as { RED: { workspaces: { show(id: string): void } } }).RED.workspaces.show(id), t.id)
        await page.waitForTimeout(300)
        await page.screenshot({ path: join(SHOTS, `${t.id.replace(/-tab$/, '')}.png`), clip: { x: 0, y: 0, width: 1400, height: 620 } })
      }
      expect(errors).toEqual([])
      await context.close()
    }, 60_000)
  },
)
