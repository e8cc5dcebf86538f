/**
 * The rule runtime on a manual clock, over a real SQLite store: messages go through the real ingest
 * core (contracts, dedup, commit) and then into the runtime, exactly as on the ingest worker, minus
 * the MQTT socket. `restart()` closes everything and opens it again on the same files.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AlertNotice } from '../../gateway/rules/runtime.ts'
import { RuleRuntime } from '../../gateway/rules/runtime.ts'
import type { ForecastSignals } from '../../gateway/rules/engine/engine.ts'
import { loadConfig } from '../../gateway/config/load.ts'
import type { Config } from '../../gateway/config/schema.ts'
import { ManualClock } from '../../gateway/core/clock.ts'
import { createLogger } from '../../gateway/core/log.ts'
import { IngestCore } from '../../gateway/ingest/core.ts'
import type { RawMessage } from '../../gateway/ingest/protocol.ts'
import { openSqliteStore, type SqliteStore } from '../../gateway/store/sqlite/index.ts'
import { tempDir } from './gateway.ts'

export interface RuleHarness {
  clock: ManualClock
  config: Config
  store: SqliteStore
  runtime: RuleRuntime
  /** Every notice published since the start (across restarts). */
  notices: AlertNotice[]
  /** Publish one message as `device` (kind: reading, scan, shipment, status); returns whether it was stored. */
  publish(device: string, kind: string, payload: object, zone?: string): boolean
  /** Publish many messages of one device and kind as one group-commit batch; returns how many were stored. */
  publishMany(device: string, kind: string, payloads: readonly object[], zone?: string): number
  /** Move the clock, then let queued flushes (timer-driven changes) run. */
  advance(ms: number): Promise<void>
  restart(): Promise<void>
  close(): Promise<void>
  /** Notices of one event kind, optionally of one rule. */
  events(event: AlertNotice['event'], rule?: string): AlertNotice[]
}

export interface HarnessOptions {
  rules: string
  skus?: string
  t0?: number
  config?: Record<string, unknown>
  forecasts?: ForecastSignals
}

/** 2025-03-03 08:00Z, a Monday. */
export const T0 = Date.UTC(2025, 2, 3, 8, 0, 0)

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

export async function openRuleHarness(opts: HarnessOptions): Promise<RuleHarness> {
  const dir = tempDir()
  const rulesDir = join(dir, 'rules')
  mkdirSync(rulesDir)
  writeFileSync(join(rulesDir, 'test.yaml'), opts.rules)
  if (opts.skus) writeFileSync(join(rulesDir, 'skus.yaml'), opts.skus)
  const config = loadConfig({
    overrides: {
      site: 'test',
      dataDir: join(dir, 'data'),
      log: { level: 'silent' },
      ...opts.config,
      rules: { dir: rulesDir, watch: false, ...(opts.config?.rules as object | undefined) },
    },
  })
  const clock = new ManualClock(opts.t0 ?? T0)
  const notices: AlertNotice[] = []
  const logger = createLogger('silent')

  const open = (): { store: SqliteStore; core: IngestCore; runtime: RuleRuntime } => {
    const store = openSqliteStore({ dataDir: config.dataDir, synchronous: 'NORMAL', writer: true, now: () => clock.now() })
    const core = new IngestCore(
      config,
      store,
      () => clock.now(),
      () => undefined,
    )
    const runtime = new RuleRuntime({
      db: store.db,
      config,
      series: store.series,
      devices: store.devices,
      clock,
      log: logger,
      forecasts: opts.forecasts,
      publish: (n) => notices.push(...n),
    })
    runtime.start()
    return { store, core, runtime }
  }

  let parts = open()
  const h: RuleHarness = {
    clock,
    config,
    notices,
    get store() {
      return parts.store
    },
    get runtime() {
      return parts.runtime
    },
    publish(device, kind, payload, zone = 'z1') {
      return h.publishMany(device, kind, [payload], zone) === 1
    },
    publishMany(device, kind, payloads, zone = 'z1') {
      const messages = payloads.map((p): RawMessage => ({
        deviceId: device,
        site: 'test',
        zone,
        kind,
        topic: `stockyard/v1/test/${device}/${kind}`,
        payload: Buffer.from(JSON.stringify({ v: 1, ...p })),
      }))
      const r = parts.core.process(messages)
      if (r.accepted.length) parts.runtime.onBatch(r.accepted)
      return r.outcomes.reduce((n, o) => n + o, 0)
    },
    async advance(ms) {
      clock.advance(ms)
      await tick()
      await tick()
    },
    async restart() {
      await parts.runtime.close()
      parts.store.close()
      parts = open()
      await tick()
    },
    async close() {
      await parts.runtime.close()
      parts.store.close()
      rmSync(dir, { recursive: true, force: true })
    },
    events(event, rule) {
      return notices.filter((n) => n.event === event && (rule === undefined || n.alert.rule === rule))
    },
  }
  return h
}
