/**
 * `stockyard flows export|import`: move Node-RED flows between sites. Export reads a running gateway's
 * flows through its `/red` proxy (admin token), or a stopped gateway's `node-red/flows.json`, and
 * writes them without credentials. Import checks a flow file (every problem at once), then merges it
 * into the site's flows, or replaces them, in one full deploy. The deploy carries the revision the
 * flows were read at, so a deploy made from the editor in between is not overwritten (409).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { loadConfig } from '../config/load.ts'
import { StockyardError, type ErrorCode } from '../core/errors.ts'
import { checkFlows, stripCredentials, type FlowNode } from '../nodered/flows.ts'
import { parseFlags, requireFlag } from './args.ts'

const USAGE = `usage: stockyard flows export --url URL --token ADMIN_TOKEN [--out FILE]
       stockyard flows export [--data DIR | --config FILE] [--out FILE]   (a stopped gateway: DIR/node-red/flows.json)
       stockyard flows import FILE --url URL --token ADMIN_TOKEN [--replace]
URL is the gateway's HTTP address (http://HOST:PORT); the token must have role admin.
An export carries no credentials (passwords, keys, cred env values): re-enter them in the editor (URL/red) at
the new site. Import merges by default: the file's tabs and subflows replace the site's of the same id, with
every node on them, its other nodes replace nodes of the same id, and the site's other flows stay (a node the
site already has keeps its credentials). --replace deploys the file alone. Prints
{"deployed": nodes, "tabs": [the file's tab labels], "replaced": site nodes dropped, "added": new nodes}.`

const flags = {
  url: { type: 'string' },
  token: { type: 'string' },
  out: { type: 'string' },
  data: { type: 'string' },
  config: { type: 'string' },
  replace: { type: 'boolean', default: false },
} as const

/** A full deploy of a few thousand nodes takes Node-RED a moment; a silent gateway should not hang the command. */
const TIMEOUT_MS = 60_000

/** Run `stockyard flows <sub> ...`. */
export async function runFlows(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseFlags(rest, flags)
  const usage = (why: string): StockyardError => new StockyardError('request.invalid', `${why}\n${USAGE}`)
  if (sub === 'export') {
    if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`)
    if (values.replace) throw usage('--replace is a flag of import')
    const online = values.url !== undefined || values.token !== undefined
    if (online && (values.data !== undefined || values.config !== undefined)) {
      throw usage('--url reads a running gateway, --data/--config a stopped one: give one or the other')
    }
    const nodes = withoutCredentials(online ? (await readRemote(remoteOf(values))).flows : readOffline(values.data, values.config))
    const text = JSON.stringify(nodes, null, 2) + '\n'
    if (values.out === undefined) return void process.stdout.write(text)
    writeFileSync(values.out, text)
    return printLine({ written: values.out, nodes: nodes.length, tabs: tabLabels(nodes) })
  }
  if (sub === 'import') {
    if (positionals.length !== 1) throw usage('import takes one flow file')
    for (const f of ['out', 'data', 'config'] as const) if (values[f] !== undefined) throw usage(`--${f} is not a flag of import`)
    const remote = remoteOf(values)
    const file = positionals[0]!
    const incoming = readFlowFile(file)
    const current = await readRemote(remote)
    const plan = values.replace ? replaceAll(current.flows, incoming) : merge(current.flows, incoming)
    const misplaced = unplaced(incoming, plan.nodes, file)
    if (misplaced.length) throw refused(misplaced)
    await callRed(remote, 'POST', { rev: current.rev, flows: plan.nodes })
    return printLine({ deployed: plan.nodes.length, tabs: tabLabels(incoming), replaced: plan.replaced, added: plan.added })
  }
  throw usage(sub === undefined ? 'flows needs a subcommand' : `unknown subcommand ${sub}`)
}

/** One JSON document on one line. */
function printLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n')
}

function refused(errors: string[]): StockyardError {
  return new StockyardError('request.invalid', `flow file refused, nothing deployed:\n  ${errors.join('\n  ')}`, { errors })
}

/** A flow file: JSON, an array of nodes with unique ids; otherwise a refusal listing every problem. */
function readFlowFile(file: string): FlowNode[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new StockyardError('request.invalid', `cannot read ${file}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw refused([`${file}: not valid JSON: ${(err as Error).message}`])
  }
  const checked = checkFlows(json, file)
  if (checked.ok) return checked.nodes
  throw refused(checked.errors)
}

/** The flows a stopped gateway last deployed: `<dataDir>/node-red/flows.json` (Node-RED rewrites it on every deploy). */
function readOffline(dataDir: string | undefined, configFile: string | undefined): FlowNode[] {
  // --data wins over STOCKYARD_DATA_DIR, which wins over the config file, as for `start`.
  const config = loadConfig({ file: configFile, env: process.env, overrides: dataDir === undefined ? {} : { dataDir } })
  const file = join(config.dataDir, 'node-red', 'flows.json')
  if (!existsSync(file)) {
    throw new StockyardError(
      'not_found',
      `no flows at ${file}: Node-RED writes it when flows are first deployed. Is ${config.dataDir} the gateway's data dir ` +
        `(--data DIR, or dataDir in --config)? A running gateway's flows are read with --url and --token.`,
    )
  }
  return readFlowFile(file)
}

/** The flows without secrets: `stripCredentials`, then any `credentials` key left at any depth. */
function withoutCredentials(nodes: readonly FlowNode[]): FlowNode[] {
  const scrub = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(scrub)
    if (v === null || typeof v !== 'object') return v
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k !== 'credentials')
        .map(([k, x]) => [k, scrub(x)]),
    )
  }
  return stripCredentials(nodes).map((n) => scrub(n) as FlowNode)
}

function tabLabels(nodes: readonly FlowNode[]): string[] {
  return nodes.filter((n) => n.type === 'tab').map((n) => (typeof n.label === 'string' ? n.label : n.id))
}

const isContainer = (n: FlowNode): boolean => n.type === 'tab' || n.type === 'subflow'

interface Plan {
  nodes: FlowNode[]
  /** Nodes of the site dropped or overwritten. */
  replaced: number
  /** Nodes of the file whose id the site did not have. */
  added: number
}

/**
 * The site's flows with the file's merged in: a site node whose id is in the file is replaced where it
 * stands (so a re-imported tab keeps its place), one on a tab or subflow of the file is dropped, and
 * the file's remaining nodes are appended.
 */
function merge(current: readonly FlowNode[], incoming: readonly FlowNode[]): Plan {
  const byId = new Map(incoming.map((n) => [n.id, n]))
  const containers = new Set(incoming.filter(isContainer).map((n) => n.id))
  const placed = new Set<string>()
  const nodes: FlowNode[] = []
  for (const n of current) {
    const mine = byId.get(n.id)
    if (mine) {
      nodes.push(mine)
      placed.add(n.id)
    } else if (n.z === undefined || !containers.has(n.z)) nodes.push(n)
  }
  nodes.push(...incoming.filter((n) => !placed.has(n.id)))
  return { nodes, replaced: current.length - (nodes.length - incoming.length), added: incoming.length - placed.size }
}

function replaceAll(current: readonly FlowNode[], incoming: readonly FlowNode[]): Plan {
  const had = new Set(current.map((n) => n.id))
  return { nodes: [...incoming], replaced: current.length, added: incoming.filter((n) => !had.has(n.id)).length }
}

/** The file's nodes whose `z` is no tab or subflow of the flows to deploy (Node-RED would not run them). */
function unplaced(incoming: readonly FlowNode[], deployed: readonly FlowNode[], file: string): string[] {
  const containers = new Set(deployed.filter(isContainer).map((n) => n.id))
  return incoming
    .filter((n) => n.z !== undefined && n.z !== '' && !containers.has(n.z))
    .map((n) => `${file}: node ${JSON.stringify(n.id)} (${n.type}) sits on ${JSON.stringify(n.z)}, which is no tab or subflow of the file or the site`)
}

// --- the gateway's /red/flows ---

interface Remote {
  /** http(s)://host:port[/prefix], without a trailing slash. */
  base: string
  token: string
}

function remoteOf(values: { url?: string; token?: string }): Remote {
  const raw = requireFlag(values, 'url')
  const token = requireFlag(values, 'token')
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new StockyardError('request.invalid', `--url must be the gateway's HTTP address, e.g. http://127.0.0.1:8080, got ${raw}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StockyardError('request.invalid', `--url must be http:// or https://, got ${raw}`)
  return { base: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, token }
}

const Revisioned = z.object({ rev: z.string(), flows: z.array(z.unknown()) })

/** The site's flows and their revision (Node-RED admin API v2). */
async function readRemote(remote: Remote): Promise<{ rev: string; flows: FlowNode[] }> {
  const body = Revisioned.safeParse(await callRed(remote, 'GET'))
  if (!body.success) throw new StockyardError('internal', `GET ${remote.base}/red/flows answered something other than Node-RED's flows`)
  const checked = checkFlows(body.data.flows, `${remote.base}/red/flows`)
  if (!checked.ok) throw new StockyardError('internal', `the site's flows are not a flow set:\n  ${checked.errors.join('\n  ')}`)
  return { rev: body.data.rev, flows: checked.nodes }
}

/** GET or POST (full deploy) `/red/flows` with the admin token; a refusal becomes a StockyardError that says what to do. */
async function callRed(remote: Remote, method: 'GET' | 'POST', body?: unknown): Promise<unknown> {
  const url = `${remote.base}/red/flows`
  const headers: Record<string, string> = { authorization: `Bearer ${remote.token}`, 'node-red-api-version': 'v2', accept: 'application/json' }
  if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'node-red-deployment-type': 'full' })
  let res: Response
  let text: string
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
    text = await res.text()
  } catch (err) {
    const cause = (err as { cause?: { message?: unknown } }).cause?.message
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : typeof cause === 'string' ? cause : (err as Error).message
    throw new StockyardError('nodered.unavailable', `cannot reach the gateway at ${remote.base} (${why}); is it running, and is --url its HTTP address?`)
  }
  if (res.ok) {
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new StockyardError('internal', `${method} ${url} answered ${res.status} with something other than JSON`)
    }
  }
  throw refusal(res.status, text, `${method} ${url}`)
}

/** The message of a gateway error body (`{error: {code, message}}`) or of a Node-RED one (`{code, message}`). */
function messageOf(text: string): string {
  try {
    const b = JSON.parse(text) as { error?: { message?: unknown }; message?: unknown }
    const m = b.error?.message ?? b.message
    if (typeof m === 'string' && m) return m
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200) || '(no message)'
}

function refusal(status: number, text: string, what: string): StockyardError {
  const msg = messageOf(text)
  const admin = 'flows export and import need a token of role admin (stockyard tokens add --role admin at that gateway)'
  const known: Record<number, [ErrorCode, string]> = {
    401: ['auth.required', `the gateway refused the token: ${msg}; ${admin}`],
    403: ['auth.forbidden', `${msg}; ${admin}`],
    404: ['not_found', `${what} answered 404: the gateway runs no Node-RED (set nodeRed.enabled in its config), or --url is not its HTTP address`],
    409: ['conflict', `the site's flows changed while importing (a deploy from the editor?); nothing was deployed, run the import again`],
    503: ['nodered.unavailable', `${msg} (${what} answered 503)`],
  }
  const [code, message] = known[status] ?? [status === 400 ? 'request.invalid' : 'internal', `${what} answered ${status}: ${msg}`]
  return new StockyardError(code, message)
}
