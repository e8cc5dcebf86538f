/**
 * `stockyard flows export|import`, run as a child process against two real gateways with Node-RED.
 * Site A has a cold-room tab whose HTTP request node holds a password; site B has a dock tab of its
 * own. An export carries no credentials; an import merges by tab (B keeps its own) or, with
 * --replace, deploys the file alone; a bad file or a viewer token changes nothing at B; a stopped
 * gateway's data dir exports too.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { stockyardCli, within } from './helpers/e2e.ts'
import { startTestGateway, tempDir, type TestGateway } from './helpers/gateway.ts'

type Node = { id: string; type: string; z?: string; label?: string; [k: string]: unknown }

/** Site A's flow: a tab with a cred env entry, inject -> http request (basic auth, with credentials) -> debug. */
const SITE_A: Node[] = [
  { id: 'a-tab', type: 'tab', label: 'Cold room', env: [{ name: 'WMS_KEY', type: 'cred', value: 'env-secret-a' }] },
  {
    id: 'a-inject',
    type: 'inject',
    z: 'a-tab',
    name: 'hourly',
    props: [{ p: 'payload' }],
    repeat: '',
    once: false,
    payloadType: 'date',
    x: 120,
    y: 80,
    wires: [['a-post']],
  },
  {
    id: 'a-post',
    type: 'http request',
    z: 'a-tab',
    name: 'post to WMS',
    method: 'POST',
    ret: 'txt',
    url: 'http://127.0.0.1:9/never',
    authType: 'basic',
    x: 300,
    y: 80,
    wires: [['a-debug']],
    credentials: { user: 'u', password: 'password-a' },
  },
  { id: 'a-debug', type: 'debug', z: 'a-tab', name: 'answer', active: true, complete: 'payload', x: 480, y: 80, wires: [] },
]

/** Site B's own flow. */
const SITE_B: Node[] = [
  { id: 'b-tab', type: 'tab', label: 'Dock' },
  {
    id: 'b-inject',
    type: 'inject',
    z: 'b-tab',
    name: 'tick',
    props: [{ p: 'payload' }],
    repeat: '',
    once: false,
    payloadType: 'date',
    x: 120,
    y: 80,
    wires: [['b-debug']],
  },
  { id: 'b-debug', type: 'debug', z: 'b-tab', name: 'dock log', active: true, complete: 'payload', x: 300, y: 80, wires: [] },
]

let a: TestGateway
let b: TestGateway
let adminA: string
let adminB: string
let dir: string

async function siteWith(flow: Node[], site: string): Promise<TestGateway> {
  const flowsDir = join(dir, `flows-${site}`)
  mkdirSync(flowsDir)
  writeFileSync(join(flowsDir, `${site}.json`), JSON.stringify(flow))
  const gw = await startTestGateway({ site, nodeRed: { enabled: true, flowsDir } })
  await within(gw.nodeRed!.ready(), 20_000, `Node-RED of site ${site} started`)
  return gw
}

beforeAll(async () => {
  dir = tempDir('stockyard-cli-flows-')
  ;[a, b] = await Promise.all([siteWith(SITE_A, 'a'), siteWith(SITE_B, 'b')])
  adminA = a.token('admin')
  adminB = b.token('admin')
}, 40_000)

afterAll(async () => {
  await Promise.all([a?.dispose(), b?.dispose()])
  rmSync(dir, { recursive: true, force: true })
})

/** Node-RED's admin API through the gateway's proxy, as the admin. */
async function red(gw: TestGateway, token: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<unknown> {
  const res = await fetch(gw.url(`/red${path}`), {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, 'node-red-api-version': 'v1', 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(10_000),
  })
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} /red${path} answered ${res.status}: ${await res.text()}`)
  return res.status === 204 ? undefined : res.json()
}

const flowsOfB = async (): Promise<Node[]> => (await red(b, adminB, '/flows')) as Node[]
const ids = (nodes: Node[]): string[] => nodes.map((n) => n.id).sort()

/** Every key of a JSON value, at any depth. */
function keysOf(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(keysOf)
  if (v === null || typeof v !== 'object') return []
  return Object.entries(v).flatMap(([k, x]) => [k, ...keysOf(x)])
}

function writeFlowFile(name: string, content: unknown): string {
  const file = join(dir, name)
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

/** A loopback port nobody listens on (one just released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  await new Promise((r) => server.close(r))
  return port
}

const remoteB = (token = adminB): string[] => ['--url', b.url(''), '--token', token]

describe('stockyard flows export', () => {
  it("prints a running site's flows without credentials: the tab and its nodes, no password, no cred env value", async () => {
    // Site A does hold the password (Node-RED keeps it in its credentials file, not in the flow).
    expect(await red(a, adminA, '/credentials/http-request/a-post')).toMatchObject({ user: 'u', has_password: true })
    const r = await stockyardCli(['flows', 'export', '--url', a.url(''), '--token', adminA])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const nodes = JSON.parse(r.stdout) as Node[]
    expect(ids(nodes)).toEqual(['a-debug', 'a-inject', 'a-post', 'a-tab'])
    expect(nodes.find((n) => n.type === 'tab')).toMatchObject({ label: 'Cold room' })
    expect(keysOf(nodes)).not.toContain('credentials')
    expect(r.stdout).not.toContain('password-a')
    expect(r.stdout).not.toContain('env-secret-a')
    expect(r.stdout).toBe(JSON.stringify(nodes, null, 2) + '\n')
  })

  it("reads a stopped gateway's data dir (node-red/flows.json), stripping credentials at any depth, into --out", async () => {
    const data = join(dir, 'stopped')
    mkdirSync(join(data, 'node-red'), { recursive: true })
    const flow = [
      { id: 't', type: 'tab', label: 'Old site', env: [{ name: 'K', type: 'cred', value: 'env-secret' }] },
      { id: 'c', type: 'mqtt-broker', broker: 'localhost', credentials: { user: 'u', password: 'broker-secret' } },
      { id: 'f', type: 'function', z: 't', func: 'return msg', extra: { nested: [{ credentials: { token: 'deep-secret' } }] }, wires: [] },
    ]
    writeFileSync(join(data, 'node-red', 'flows.json'), JSON.stringify(flow))
    const out = join(dir, 'stopped-export.json')
    const r = await stockyardCli(['flows', 'export', '--data', data, '--out', out])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ written: out, nodes: 3, tabs: ['Old site'] })
    const text = readFileSync(out, 'utf8')
    expect(text.endsWith('}\n]\n')).toBe(true)
    const nodes = JSON.parse(text) as Node[]
    expect(text).toBe(JSON.stringify(nodes, null, 2) + '\n')
    expect(keysOf(nodes)).not.toContain('credentials')
    for (const secret of ['env-secret', 'broker-secret', 'deep-secret']) expect(text).not.toContain(secret)
    expect(nodes[0]!.env).toEqual([{ name: 'K', type: 'cred', value: '' }])
  })

  it("exports a real site's data dir the same as its running flows", async () => {
    const [offline, online] = await Promise.all([
      stockyardCli(['flows', 'export', '--data', a.dataDir]),
      stockyardCli(['flows', 'export', '--url', a.url(''), '--token', adminA]),
    ])
    expect(offline.stderr).toBe('')
    expect(offline.code).toBe(0)
    expect(JSON.parse(offline.stdout)).toEqual(JSON.parse(online.stdout))
  })

  it('says so when the gateway runs no Node-RED', async () => {
    const plain = await startTestGateway({ site: 'plain' })
    try {
      const r = await stockyardCli(['flows', 'export', '--url', plain.url(''), '--token', plain.token('admin')])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^error not_found: .*answered 404: the gateway runs no Node-RED \(set nodeRed\.enabled/)
    } finally {
      await plain.dispose()
    }
  })

  it('says where it looked when the data dir has no flows', async () => {
    const empty = join(dir, 'empty-data')
    mkdirSync(empty)
    const r = await stockyardCli(['flows', 'export', '--data', empty])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`error not_found: no flows at ${join(empty, 'node-red', 'flows.json')}`)
  })
})

describe('stockyard flows import', () => {
  let exported: string
  beforeAll(async () => {
    exported = join(dir, 'site-a.json')
    const r = await stockyardCli(['flows', 'export', '--url', a.url(''), '--token', adminA, '--out', exported])
    if (r.code !== 0) throw new Error(`export from A failed: ${r.stderr}`)
  })
  // Each test starts from B's own flows only.
  beforeEach(async () => {
    await red(b, adminB, '/flows', { method: 'POST', body: SITE_B })
  })

  it("merges A's tab into B, keeping B's own tab; the password stays behind at A", async () => {
    const r = await stockyardCli(['flows', 'import', exported, ...remoteB()])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(JSON.parse(r.stdout)).toEqual({ deployed: 7, tabs: ['Cold room'], replaced: 0, added: 4 })
    const flows = await flowsOfB()
    expect(ids(flows)).toEqual(['a-debug', 'a-inject', 'a-post', 'a-tab', 'b-debug', 'b-inject', 'b-tab'])
    expect(flows.filter((n) => n.type === 'tab').map((n) => n.label)).toEqual(['Dock', 'Cold room'])
    // Credentials are re-entered in the editor at the new site.
    expect(await red(b, adminB, '/credentials/http-request/a-post')).toEqual({})
  })

  it('replaces a tab imported again, with every node on it, and leaves the rest alone (re-entered credentials stay)', async () => {
    expect((await stockyardCli(['flows', 'import', exported, ...remoteB()])).code).toBe(0)
    // The password is re-entered at B (as the editor deploys it: on the node, once).
    const atB = await flowsOfB()
    atB.find((n) => n.id === 'a-post')!.credentials = { user: 'u-b', password: 'password-b' }
    await red(b, adminB, '/flows', { method: 'POST', body: atB })
    // A newer version of the cold-room tab: the debug node is gone and a comment is new.
    const v2 = (JSON.parse(readFileSync(exported, 'utf8')) as Node[]).filter((n) => n.id !== 'a-debug')
    v2.find((n) => n.id === 'a-post')!.wires = [[]]
    v2.push({ id: 'a-note', type: 'comment', z: 'a-tab', name: 'v2', x: 120, y: 40, wires: [] })
    const r = await stockyardCli(['flows', 'import', writeFlowFile('site-a-v2.json', v2), ...remoteB()])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ deployed: 7, tabs: ['Cold room'], replaced: 4, added: 1 })
    expect(ids(await flowsOfB())).toEqual(['a-inject', 'a-note', 'a-post', 'a-tab', 'b-debug', 'b-inject', 'b-tab'])
    expect(await red(b, adminB, '/credentials/http-request/a-post')).toEqual({ user: 'u-b', has_password: true })
  })

  it('with --replace deploys the file alone: B loses its own tab', async () => {
    const r = await stockyardCli(['flows', 'import', exported, '--replace', ...remoteB()])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ deployed: 4, tabs: ['Cold room'], replaced: 3, added: 4 })
    expect(ids(await flowsOfB())).toEqual(['a-debug', 'a-inject', 'a-post', 'a-tab'])
  })

  it('refuses a bad file with exit 2, listing every problem, and deploys nothing', async () => {
    const bad = writeFlowFile('bad.json', [
      { id: 'x-tab', type: 'tab', label: 'Broken' },
      { id: 'x-1', z: 'x-tab' },
      { id: 'x-2', type: 'debug', z: 'x-tab' },
      { id: 'x-2', type: 'inject', z: 'x-tab' },
    ])
    const notJson = writeFlowFile('not-json.json', '[{"id": "a",')
    const orphan = writeFlowFile('orphan.json', [{ id: 'o-1', type: 'debug', z: 'no-such-tab', wires: [] }])
    const before = await flowsOfB()
    const [r, j, o] = await Promise.all([bad, notJson, orphan].map((f) => stockyardCli(['flows', 'import', f, ...remoteB()])))
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^error request\.invalid: flow file refused, nothing deployed:/)
    expect(r.stderr).toContain(`${bad}: 1.type:`)
    expect(r.stderr).toContain(`${bad}: node id "x-2" is used twice`)
    expect(j.code).toBe(2)
    expect(j.stderr).toContain(`${notJson}: not valid JSON`)
    expect(o.code).toBe(2)
    expect(o.stderr).toContain(`${orphan}: node "o-1" (debug) sits on "no-such-tab", which is no tab or subflow`)
    expect(await flowsOfB()).toEqual(before)
  })

  it('refuses a viewer token (admin is needed) and an unknown one, changing nothing', async () => {
    const viewer = b.token('viewer')
    const [imp, exp, unknown] = await Promise.all([
      stockyardCli(['flows', 'import', exported, ...remoteB(viewer)]),
      stockyardCli(['flows', 'export', ...remoteB(viewer)]),
      stockyardCli(['flows', 'export', ...remoteB('not-a-token')]),
    ])
    expect(imp.code).toBe(2)
    expect(imp.stderr).toMatch(/^error auth\.forbidden: .*role admin/)
    expect(exp.code).toBe(2)
    expect(exp.stdout).toBe('')
    expect(exp.stderr).toMatch(/^error auth\.forbidden: .*role admin/)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/^error auth\.required: .*role admin/)
    expect(ids(await flowsOfB())).toEqual(['b-debug', 'b-inject', 'b-tab'])
  })

  it('says so when no gateway answers at --url, and checks its flags', async () => {
    const closed = await closedPort()
    const [refused, noToken, noFile, both] = await Promise.all([
      stockyardCli(['flows', 'export', '--url', `http://127.0.0.1:${closed}`, '--token', 't']),
      stockyardCli(['flows', 'import', exported, '--url', b.url('')]),
      stockyardCli(['flows', 'import', ...remoteB()]),
      stockyardCli(['flows', 'export', ...remoteB(), '--data', dir]),
    ])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/^error nodered\.unavailable: cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED/)
    expect(noToken.code).toBe(2)
    expect(noToken.stderr).toMatch(/^error request\.invalid: --token is required/)
    expect(noFile.code).toBe(2)
    expect(noFile.stderr).toMatch(/^error request\.invalid: import takes one flow file/)
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('give one or the other')
  })
})
