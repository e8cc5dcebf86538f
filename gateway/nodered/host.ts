/**
 * The broker thread's side of Node-RED: prepares its identities (an internal MQTT client with its own
 * password and ACL, a viewer token for the HTTP API, a secret for the proxy), runs the Node-RED worker
 * thread, restarts it when it dies, and mirrors its log and state into the gateway's log and /metrics.
 * The identities are new at every start and never written anywhere: the worker gets them in its own
 * environment, which flows read as `${STOCKYARD_…}`.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hashSecret, randomSecret } from '../auth/secrets.ts'
import { FLOW_ENV_DEFAULTS, type Config, type InternalClient } from '../config/schema.ts'
import { StockyardError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { BackgroundWorker } from '../core/thread.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { TokenVerifier } from '../http/auth.ts'
import { loadShippedFlows } from './flows.ts'
import type { FromNodeRedWorker, NodeRedWorkerData, ToNodeRedWorker } from './protocol.ts'

export const MQTT_USERNAME = 'stockyard-node-red'
export const HTTP_ADMIN_ROOT = '/red'
export const HTTP_NODE_ROOT = '/hooks'

/** Where the proxy sends a request once the caller is authenticated. */
export interface NodeRedTarget {
  socketPath: string
  token: string
}

/** Node-RED's internal identities, made before the broker starts (the broker needs the MQTT client). */
export interface NodeRedIdentities {
  mqtt: InternalClient
  mqttPassword: string
  apiToken: string
  proxyToken: string
}

export async function nodeRedIdentities(config: Readonly<Config>): Promise<NodeRedIdentities> {
  const root = `stockyard/v1/${config.site}`
  const mqttPassword = randomSecret(24)
  return {
    mqtt: {
      username: MQTT_USERNAME,
      passwordHash: await hashSecret(mqttPassword),
      publish: config.nodeRed.mqtt.publish ?? [`${root}/flows/#`],
      subscribe: config.nodeRed.mqtt.subscribe ?? [`${root}/#`],
    },
    mqttPassword,
    apiToken: randomSecret(32),
    proxyToken: randomSecret(32),
  }
}

/** Accept Node-RED's API token (role viewer, name node-red) besides the store's tokens. */
export function withNodeRedToken(tokens: TokenVerifier, ids: NodeRedIdentities | undefined): TokenVerifier {
  if (!ids) return tokens
  const id = 'node-red'
  return {
    verify: (t) => (t === ids.apiToken ? { id, role: 'viewer' } : tokens.verify(t)),
    list: () => [...(tokens.list?.() ?? []), { id, role: 'viewer', name: 'node-red', createdAt: 0, revoked: false }],
  }
}

/**
 * Check the shipped flows before the start (an invalid set refuses it, like invalid rules or
 * dashboards), and return the credential key: the configured one, or one generated at first start.
 */
export function prepareNodeRed(config: Readonly<Config>, log: Pick<Logger, 'warn'>): { credentialSecret: string } {
  const shipped = loadShippedFlows(config.nodeRed.flowsDir)
  if (!shipped.ok) throw new StockyardError('config.invalid', `the flows in ${config.nodeRed.flowsDir} are invalid:\n  ${shipped.errors.join('\n  ')}`)
  if (config.nodeRed.credentialSecret) return { credentialSecret: config.nodeRed.credentialSecret }
  const dir = join(config.dataDir, 'node-red')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = join(dir, 'credential-secret')
  if (!existsSync(file)) {
    writeFileSync(file, randomSecret(32) + '\n', { mode: 0o600, flag: 'wx' })
    log.warn({ file }, 'nodeRed.credentialSecret is not set: generated a key for the flows credentials; back it up, or set the key in config')
  }
  chmodSync(file, 0o600)
  return { credentialSecret: readFileSync(file, 'utf8').trim() }
}

export interface NodeRedState {
  running: boolean
  /** ms the last start took, from the worker's start to its flows running. */
  startMs: number | null
  restarts: number
  /** Why the flows did not start (e.g. `missing-types: foo`), else null. */
  problem: string | null
}

export class NodeRedHost {
  private readonly worker: BackgroundWorker<ToNodeRedWorker, FromNodeRedWorker>
  private readonly socketDir: string
  private readonly socketPath: string
  readonly state: NodeRedState = { running: false, startMs: null, restarts: 0, problem: null }
  private readyWaiters: Array<() => void> = []

  constructor(
    private readonly deps: {
      config: Readonly<Config>
      ids: NodeRedIdentities
      credentialSecret: string
      /** Where flows reach the gateway: its MQTT and HTTP ports on the loopback. */
      ports: { mqtt: number; http: number }
      metrics: GatewayMetrics
      logger: Logger
    },
  ) {
    const { config, ids, ports } = deps
    // A private (0700) directory: only this user can connect to the socket, which trusts the proxy header.
    this.socketDir = mkdtempSync(join(tmpdir(), 'stockyard-red-'))
    this.socketPath = join(this.socketDir, 'red.sock')
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
    const flowsDir = resolve(config.nodeRed.flowsDir)
    const workerData: NodeRedWorkerData = {
      userDir: resolve(config.dataDir, 'node-red'),
      flowsDir,
      // Stockyard's own nodes ship with the gateway; a site's flowsDir may add its own in `nodes/`.
      nodesDir: [...new Set([fileURLToPath(new URL('../../flows/nodes', import.meta.url)), join(flowsDir, 'nodes')])],
      socketPath: this.socketPath,
      credentialSecret: deps.credentialSecret,
      proxyToken: ids.proxyToken,
      httpAdminRoot: HTTP_ADMIN_ROOT,
      httpNodeRoot: HTTP_NODE_ROOT,
      logLevel: config.nodeRed.logLevel,
      nice: config.nodeRed.nice,
    }
    // The flows see their settings and their own identities, not the gateway's environment (which may hold other secrets).
    const env: Record<string, string> = {
      ...pick(process.env, ['PATH', 'HOME', 'TZ', 'LANG', 'NODE_ENV']),
      ...FLOW_ENV_DEFAULTS,
      ...config.nodeRed.env,
      STOCKYARD_SITE: config.site,
      STOCKYARD_MQTT_URL: `mqtt://${urlHost(host)}:${ports.mqtt}`,
      STOCKYARD_MQTT_USERNAME: ids.mqtt.username,
      STOCKYARD_MQTT_PASSWORD: ids.mqttPassword,
      STOCKYARD_API_URL: `http://${urlHost(host)}:${ports.http}`,
      STOCKYARD_API_TOKEN: ids.apiToken,
    }
    const log = deps.logger
    this.worker = new BackgroundWorker({
      entry: new URL('./worker-entry.mjs', import.meta.url),
      workerData,
      env,
      name: 'Node-RED worker',
      logger: log,
      onMessage: (m) => this.onMessage(m),
      onCrash: () => {
        this.state.running = false
        this.state.restarts++
        deps.metrics.nodeRedUp.set(0)
        deps.metrics.nodeRedRestarts.inc()
      },
    })
  }

  /** Where the proxy forwards to; null while Node-RED starts or restarts. */
  target(): NodeRedTarget | null {
    return this.state.running ? { socketPath: this.socketPath, token: this.deps.ids.proxyToken } : null
  }

  start(): void {
    this.worker.start()
  }

  /** Resolves when Node-RED next reports its flows started (at once if it runs). */
  ready(): Promise<void> {
    if (this.state.running) return Promise.resolve()
    return new Promise((resolve) => this.readyWaiters.push(resolve))
  }

  /** End the thread as a crash would (it is restarted); for tests. */
  kill(): Promise<void> {
    return this.worker.kill()
  }

  async stop(): Promise<void> {
    this.state.running = false
    await this.worker.stop()
    rmSync(this.socketDir, { recursive: true, force: true })
  }

  private onMessage(m: FromNodeRedWorker): void {
    const { metrics, logger } = this.deps
    switch (m.type) {
      case 'ready':
        this.state.running = true
        this.state.startMs = m.startMs
        metrics.nodeRedUp.set(1)
        metrics.nodeRedStart.set(m.startMs / 1000)
        this.state.problem = m.problem ?? null
        if (m.problem) {
          metrics.nodeRedErrors.inc({ source: 'runtime' })
          logger.error({ problem: m.problem, editor: HTTP_ADMIN_ROOT }, 'Node-RED runs, but its flows did not start; fix them in the editor')
        }
        logger.info({ startMs: m.startMs, flows: m.flows, seededFiles: m.seeded, editor: HTTP_ADMIN_ROOT }, 'Node-RED running')
        for (const w of this.readyWaiters.splice(0)) w()
        return
      case 'failed':
        logger.error({ reason: m.message }, 'Node-RED could not start')
        metrics.nodeRedErrors.inc({ source: 'runtime' })
        return
      case 'log':
        if (m.level === 'error' || m.level === 'fatal') metrics.nodeRedErrors.inc({ source: m.node ? 'node' : 'runtime' })
        logger[m.level](m.node ? { node: m.node } : {}, m.msg)
        return
    }
  }
}

function pick(env: NodeJS.ProcessEnv, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of keys) if (env[k] !== undefined) out[k] = env[k]
  return out
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}
