/**
 * Flow files and Node-RED's config: the shipped flows in flows/ are valid (one tab per file, unique
 * ids over all files, only node types Node-RED or flows/nodes provides); a broken flow file or a weak
 * credential key refuses the start with every problem named; export strips every credential.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../gateway/config/load.ts'
import { createLogger } from '../gateway/core/log.ts'
import { checkFlows, credentialsToMap, loadShippedFlows, stripCredentials } from '../gateway/nodered/flows.ts'
import { prepareNodeRed } from '../gateway/nodered/host.ts'
import { getJson, REPO_ROOT, scrapeMetric } from './helpers/e2e.ts'
import { startTestGateway, tempDir } from './helpers/gateway.ts'

const FLOWS = join(REPO_ROOT, 'flows')

describe('the shipped flows', () => {
  const shipped = loadShippedFlows(FLOWS)

  it('load, each file one tab whose nodes all sit on it (or are config nodes)', () => {
    expect(shipped.ok, shipped.ok ? '' : shipped.errors.join('\n')).toBe(true)
    if (!shipped.ok) return
    expect(shipped.files).toEqual(expect.arrayContaining(['alert-routing.json', 'escalation.json', 'shift-report.json', 'wms-bridge.json']))
    for (const f of shipped.files) {
      const nodes = JSON.parse(readFileSync(join(FLOWS, f), 'utf8')) as Array<{ id: string; type: string; z?: string }>
      const tabs = nodes.filter((n) => n.type === 'tab')
      expect(tabs, f).toHaveLength(1)
      for (const n of nodes) if (n.type !== 'tab' && n.z !== undefined) expect(n.z, `${f}: ${n.id}`).toBe(tabs[0]!.id)
      // A comment on the tab says what the flow does.
      expect(
        nodes.some((n) => n.type === 'comment'),
        f,
      ).toBe(true)
    }
  })

  it('use only core node types and the custom nodes in flows/nodes', () => {
    if (!shipped.ok) throw new Error(shipped.errors.join('\n'))
    const custom = new Set<string>()
    const walk = (dir: string): void => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f)
        if (statSync(p).isDirectory()) walk(p)
        else if (f.endsWith('.html')) for (const m of readFileSync(p, 'utf8').matchAll(/registerType\(\s*['"]([^'"]+)['"]/g)) custom.add(m[1]!)
      }
    }
    walk(join(FLOWS, 'nodes'))
    expect(custom.size).toBeGreaterThan(0)
    const core = new Set(
      readdirSync(join(REPO_ROOT, 'node_modules/@node-red/nodes/core'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.html'))
        .flatMap((f) =>
          [...readFileSync(join(REPO_ROOT, 'node_modules/@node-red/nodes/core', f), 'utf8').matchAll(/registerType\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!),
        ),
    )
    core.add('tab')
    for (const n of shipped.nodes) expect(core.has(n.type) || custom.has(n.type), `${n.id}: unknown node type ${n.type}`).toBe(true)
  })

  it('carry no secrets', () => {
    if (!shipped.ok) throw new Error(shipped.errors.join('\n'))
    expect(JSON.stringify(stripCredentials(shipped.nodes))).toBe(JSON.stringify(shipped.nodes))
  })
})

describe('checkFlows', () => {
  it('names every problem: not an array, a node without id or type, ids used twice', () => {
    expect(checkFlows({ id: 'x' }, 'a.json')).toMatchObject({ ok: false, errors: [expect.stringContaining('a.json')] })
    const r = checkFlows([{ id: 'a', type: 'tab' }, { type: 'inject' }, { id: 'b' }], 'b.json')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.errors.join('\n')).toMatch(/1\.id[\s\S]*2\.type/)
    expect(
      checkFlows(
        [
          { id: 'a', type: 'tab' },
          { id: 'a', type: 'inject' },
        ],
        'c.json',
      ),
    ).toEqual({ ok: false, errors: ['c.json: node id "a" is used twice'] })
    // A malformed node does not hide a duplicate elsewhere.
    const both = checkFlows([{ id: 'a', type: 'tab' }, { id: 'a', type: 'inject' }, { id: 'c' }], 'd.json')
    expect(both.ok).toBe(false)
    if (!both.ok) expect(both.errors).toEqual([expect.stringMatching(/^d\.json: 2\.type/), 'd.json: node id "a" is used twice'])
  })
})

/** A tab with a `cred` env value (a secret) and a plain one. */
const tabWithSecret = (): Record<string, unknown> & { id: string; type: string } => ({
  id: 't',
  type: 'tab',
  env: [
    { name: 'KEY', type: 'cred', value: 'secret' },
    { name: 'URL', type: 'str', value: 'http://x' },
  ],
})

describe('credentialsToMap', () => {
  it("moves a tab's inline cred env values into its credentials (encrypted on deploy), leaving other nodes alone", () => {
    const nodes = [tabWithSecret(), { id: 'n', type: 'inject', z: 't' }]
    const out = credentialsToMap(nodes)
    expect(out[0]).toEqual({
      id: 't',
      type: 'tab',
      env: [
        { name: 'KEY', type: 'cred', value: '' },
        { name: 'URL', type: 'str', value: 'http://x' },
      ],
      credentials: { KEY: 'secret' },
    })
    expect(out[1]).toBe(nodes[1])
  })
})

describe('stripCredentials', () => {
  it('drops node credentials and the values of cred-typed env entries, keeping everything else', () => {
    const nodes = [tabWithSecret(), { id: 'b', type: 'mqtt-broker', broker: 'localhost', credentials: { user: 'u', password: 'p' } }]
    const out = stripCredentials(nodes)
    expect(JSON.stringify(out)).not.toMatch(/secret|"p"|credentials/)
    expect(out[0]).toEqual({
      id: 't',
      type: 'tab',
      env: [
        { name: 'KEY', type: 'cred', value: '' },
        { name: 'URL', type: 'str', value: 'http://x' },
      ],
    })
    expect(out[1]).toEqual({ id: 'b', type: 'mqtt-broker', broker: 'localhost' })
    expect(nodes[1]).toHaveProperty('credentials')
  })
})

describe('Node-RED config', () => {
  it('refuses a credential key shorter than 16 characters and a badly named flow setting', () => {
    expect(() => loadConfig({ overrides: { nodeRed: { credentialSecret: 'short' } } })).toThrow(/nodeRed\.credentialSecret: at least 16/)
    expect(() => loadConfig({ overrides: { nodeRed: { env: { 'alert-url': 'x' } } } })).toThrow(/nodeRed\.env\.alert-url/)
    expect(loadConfig({ env: { STOCKYARD_NODE_RED_ENV_ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/x' } }).nodeRed.env.ALERT_WEBHOOK_URL).toBe('http://127.0.0.1:9/x')
  })

  it('generates a credential key into the data dir once (mode 0600) when none is configured', () => {
    const dataDir = tempDir()
    const config = loadConfig({ overrides: { dataDir, nodeRed: { enabled: true, flowsDir: FLOWS } } })
    const a = prepareNodeRed(config, createLogger('silent'))
    const b = prepareNodeRed(config, createLogger('silent'))
    expect(a.credentialSecret.length).toBeGreaterThanOrEqual(32)
    expect(b).toEqual(a)
    expect(statSync(join(dataDir, 'node-red/credential-secret')).mode & 0o777).toBe(0o600)
    const set = loadConfig({ overrides: { dataDir, nodeRed: { enabled: true, flowsDir: FLOWS, credentialSecret: 'x'.repeat(20) } } })
    expect(prepareNodeRed(set, createLogger('silent'))).toEqual({ credentialSecret: 'x'.repeat(20) })
  })

  it('reports flows that could not start (a node type the palette lacks) in /api/v1/status and /metrics', async () => {
    const flowsDir = tempDir()
    writeFileSync(
      join(flowsDir, 'odd.json'),
      JSON.stringify([
        { id: 'odd-tab', type: 'tab', label: 'Odd' },
        { id: 'odd-node', type: 'no-such-node', z: 'odd-tab', wires: [] },
      ]),
    )
    const gw = await startTestGateway({ nodeRed: { enabled: true, flowsDir } })
    try {
      await gw.nodeRed!.ready()
      const status = await getJson<{ nodeRed: { running: boolean; problem: string | null } }>(gw, '/api/v1/status', gw.token('viewer'))
      expect(status.nodeRed).toMatchObject({ running: true, problem: 'missing-types: no-such-node' })
      expect(await scrapeMetric(gw, gw.token('viewer'), 'stockyard_nodered_errors_total', { source: 'runtime' })).toBeGreaterThanOrEqual(1)
    } finally {
      await gw.dispose()
    }
  })

  it('refuses to start the gateway on a broken flow file, naming the file', async () => {
    const flowsDir = tempDir()
    writeFileSync(join(flowsDir, 'broken.json'), '[{"id": "a", "type": "tab"},')
    await expect(startTestGateway({ nodeRed: { enabled: true, flowsDir } })).rejects.toThrow(/broken\.json: not valid JSON/)
  })
})
