/**
 * The Node-RED worker thread: Node-RED through its embedding API (`RED.init`, `RED.start`) on an HTTP
 * server that listens on a Unix socket in the data dir, where only the gateway's proxy reaches it
 * (the proxy checks the caller's admin token, then sends `RED_TOKEN_HEADER`). Its log goes to the
 * broker thread. On first start the shipped flows are deployed. A crash ends this thread only; the
 * host restarts it.
 */
import type { EventEmitter } from 'node:events'
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import { lowerThreadPriority } from '../core/thread.ts'
import { credentialsToMap, loadShippedFlows } from './flows.ts'
import { RED_TOKEN_HEADER, type FromNodeRedWorker, type NodeRedWorkerData, type ToNodeRedWorker } from './protocol.ts'

const require = createRequire(import.meta.url)

/** The part of Node-RED's embedding API used here (the package ships no types). */
interface NodeRed {
  init(server: Server, settings: Record<string, unknown>): void
  start(): Promise<void>
  stop(): Promise<void>
  httpAdmin: (req: unknown, res: unknown, next: () => void) => void
  httpNode: (req: unknown, res: unknown, next: () => void) => void
  events: EventEmitter
  runtime: {
    flows: {
      setFlows(opts: { flows: { flows: unknown[] }; deploymentType: string; user?: unknown }): Promise<unknown>
      getFlows(opts: object): Promise<{ flows: unknown[] } | null>
    }
  }
}

/** Node-RED's numeric log levels. */
const LEVELS: Record<number, 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'> = {
  10: 'fatal',
  20: 'error',
  30: 'warn',
  40: 'info',
  50: 'debug',
  60: 'trace',
}

/** Node-RED's warnings that describe this set-up, not a problem: logged at info. */
const EXPECTED_WARNINGS = [/^Projects disabled/, /^Encrypted credentials not found/]

const data = workerData as NodeRedWorkerData
const port = parentPort!
const post = (m: FromNodeRedWorker): void => port.postMessage(m)

const niceErr = lowerThreadPriority(data.nice)
if (niceErr) post({ type: 'log', level: 'warn', msg: `could not lower the Node-RED thread's priority: ${niceErr.message}` })

const t0 = performance.now()
const RED = require('node-red') as NodeRed
const express = require('express') as () => ((req: unknown, res: unknown) => void) & { use(path: string, h: unknown): void; disable(s: string): void }

mkdirSync(data.userDir, { recursive: true, mode: 0o700 })
chmodSync(data.userDir, 0o700)
const firstStart = !existsSync(join(data.userDir, 'flows.json'))

const app = express()
app.disable('x-powered-by')
const server = createServer(app)
const user = { username: 'stockyard', permissions: '*' }
RED.init(server, {
  userDir: data.userDir,
  flowFile: 'flows.json',
  credentialSecret: data.credentialSecret,
  nodesDir: data.nodesDir.filter((d) => existsSync(d)),
  httpAdminRoot: data.httpAdminRoot,
  httpNodeRoot: data.httpNodeRoot,
  // The proxy authenticates the caller (an admin token of the gateway) and then vouches with this header.
  adminAuth: {
    type: 'credentials',
    users: [],
    tokens: (token: string) => Promise.resolve(token === data.proxyToken ? user : null),
    tokenHeader: RED_TOKEN_HEADER,
  },
  // No palette installs from the editor: the box is offline, and nodes are part of the release.
  externalModules: { palette: { allowInstall: false }, modules: { allowInstall: false } },
  editorTheme: {
    tours: false,
    projects: { enabled: false },
    page: { title: 'Stockyard · Node-RED' },
    header: { title: 'Stockyard · Node-RED' },
  },
  contextStorage: { default: { module: 'memory' }, file: { module: 'localfilesystem' } },
  functionExternalModules: false,
  // An offline box: no update checks, and no dialog asking about them.
  telemetry: { enabled: false, updateNotification: false },
  logging: {
    console: { level: 'off' },
    stockyard: {
      level: data.logLevel,
      metrics: false,
      audit: false,
      handler: () => (m: { level: number; msg: unknown; id?: string; type?: string; name?: string }) => {
        let level = LEVELS[m.level]
        if (!level) return
        // Node-RED warns of two things that are so by design here: no projects, and no credentials yet.
        if (level === 'warn' && typeof m.msg === 'string' && EXPECTED_WARNINGS.some((re) => re.test(m.msg as string))) level = 'info'
        const msg = m.msg instanceof Error ? (m.msg.stack ?? m.msg.message) : typeof m.msg === 'string' ? m.msg : JSON.stringify(m.msg)
        post({ type: 'log', level, msg, ...(m.id && m.type ? { node: { id: m.id, type: m.type, ...(m.name ? { name: m.name } : {}) } } : {}) })
      },
    },
  },
})
app.use(data.httpAdminRoot, RED.httpAdmin)
app.use(data.httpNodeRoot, RED.httpNode)

/**
 * Resolves at the next start of the flows: with undefined once they run, or with the reason they did
 * not start (node types missing from the palette, say), which Node-RED reports as a runtime-state event.
 */
function nextFlowsStart(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const started = (): void => done(undefined)
    const state = (e: { id?: string; payload?: { error?: string; types?: string[]; modules?: unknown[] } }): void => {
      if (e.id !== 'runtime-state' || !e.payload?.error) return
      done(e.payload.types?.length ? `${e.payload.error}: ${e.payload.types.join(', ')}` : e.payload.error)
    }
    const done = (problem: string | undefined): void => {
      RED.events.off('flows:started', started)
      RED.events.off('runtime-event', state)
      resolve(problem)
    }
    RED.events.on('flows:started', started)
    RED.events.on('runtime-event', state)
  })
}

async function main(): Promise<void> {
  rmSync(data.socketPath, { force: true })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(data.socketPath, () => resolve())
  })
  // RED.start() resolves before the flows run (they start once their credentials are loaded).
  let started = nextFlowsStart()
  await RED.start()
  let problem = await started
  let seeded = 0
  if (firstStart) {
    const shipped = loadShippedFlows(data.flowsDir)
    if (!shipped.ok) throw new Error(`the shipped flows are invalid:\n  ${shipped.errors.join('\n  ')}`)
    if (shipped.nodes.length) {
      started = nextFlowsStart()
      await RED.runtime.flows.setFlows({ flows: { flows: credentialsToMap(shipped.nodes) }, deploymentType: 'full', user })
      problem = await started
      seeded = shipped.files.length
    }
  }
  const flows = (await RED.runtime.flows.getFlows({ user }))?.flows.length ?? 0
  post({ type: 'ready', startMs: Math.round(performance.now() - t0), seeded, flows, ...(problem ? { problem } : {}) })
}

port.on('message', (m: ToNodeRedWorker) => {
  if (m.type !== 'close') return
  RED.stop()
    .catch((err: unknown) => post({ type: 'log', level: 'error', msg: `Node-RED did not stop cleanly: ${String(err)}` }))
    .finally(() => process.exit(0))
})

main().catch((err: unknown) => {
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) })
  process.exit(1)
})
