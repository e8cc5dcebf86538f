/**
 * The one configuration schema. File, `STOCKYARD_*` environment variables and CLI flags are merged
 * into one object and validated here once, at boot; the frozen result is passed to every component.
 */
import { z } from 'zod'
import { METHODS } from '../analytics/forecast/index.ts'

const port = z.number().int().min(0).max(65535)
const topicPattern = z.string().min(1).max(512)
const DAY = 86_400_000

/** The shipped flows' settings (flows/README.md); an empty URL turns that target off. */
export const FLOW_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  ALERT_WEBHOOK_URL: '',
  ALERT_MIN_SEVERITY: 'warning',
  ALERT_EMAIL_TO: '',
  ESCALATION_WEBHOOK_URL: '',
  ESCALATE_AFTER_S: '900',
  SHIFT_REPORT_URL: '',
  SHIFT_REPORT_CRON: '0 6,14,22 * * *',
  SHIFT_HOURS: '8',
  SMTP_HOST: '',
  SMTP_PORT: '587',
  SMTP_USER: '',
  SMTP_PASSWORD: '',
  SMTP_FROM: '',
  WMS_RECEIPT_DEADLINE_S: '86400',
}

export const InternalClientSchema = z.strictObject({
  /** MQTT username of an internal client (rules, Node-RED, integrations). */
  username: z.string().min(1).max(128),
  /** scrypt hash as printed by `stockyard hash-secret`; the clear password is never in config. */
  passwordHash: z.string().startsWith('scrypt$'),
  /** Topic filters (MQTT wildcards) this client may publish to. */
  publish: z.array(topicPattern).default([]),
  /** Topic filters this client may subscribe to. */
  subscribe: z.array(topicPattern).default([]),
})

export const ConfigSchema = z
  .strictObject({
    /** Directory holding the SQLite store; created if missing. */
    dataDir: z.string().min(1).default('./data'),
    /** Site identifier; the `{site}` level of every topic this gateway accepts. */
    site: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only')
      .default('site1'),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
    /** Address every listener binds to. Set 0.0.0.0 (or a LAN address) so devices on the network can connect. */
    host: z.string().min(1).default('127.0.0.1'),
    mqtt: z
      .strictObject({
        port: port.default(1883),
        wsPort: port.default(8083),
        tls: z.strictObject({ port: port.default(8883), cert: z.string(), key: z.string(), ca: z.string().optional() }).optional(),
        /** Development and conformance testing only; logged as a warning. */
        allowAnonymous: z.boolean().default(false),
        maxPayloadBytes: z
          .number()
          .int()
          .min(256)
          .max(16 * 1024 * 1024)
          .default(64 * 1024),
        /** Hard cap on one MQTT packet; larger ones close the connection (smaller ones get payload.too_large). */
        maxPacketBytes: z
          .number()
          .int()
          .min(1024)
          .max(256 * 1024 * 1024)
          .default(4 * 1024 * 1024),
        internalClients: z.array(InternalClientSchema).default([]),
      })
      .prefault({}),
    ingest: z
      .strictObject({
        /** Group commit: the longest a message waits for its transaction (and so its PUBACK). */
        commitIntervalMs: z.number().int().min(0).max(1000).default(1),
        /** Group commit: a batch is committed at once when it reaches this many messages. */
        maxBatch: z.number().int().min(1).max(100_000).default(4000),
        maxFutureSkewMs: z
          .number()
          .int()
          .min(0)
          .default(5 * 60_000),
        maxPastAgeMs: z
          .number()
          .int()
          .min(0)
          .default(7 * DAY),
        /** How many recent (seq, ts) keys per device are remembered for duplicate detection. */
        dedupPerDevice: z.number().int().min(0).max(1_000_000).default(10_000),
        /** Maximum JSON nesting depth of a payload. */
        maxDepth: z.number().int().min(2).max(64).default(8),
        /** Maximum levels of a device topic, all counted (`stockyard/v1/site/device/kind` has 5); more is `topic.too_many_levels`. */
        maxTopicLevels: z.number().int().min(5).max(32).default(8),
        /** Dead-letter rows kept (oldest deleted first). */
        deadLetterMax: z.number().int().min(100).default(10_000),
      })
      .prefault({}),
    store: z
      .strictObject({
        /** NORMAL survives a process crash (kill -9); FULL also survives power loss, at a cost (see README). */
        synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
        /** How often in-memory rollup deltas are written (reads always flush first; raw points are the durable truth). */
        rollupFlushMs: z.number().int().min(10).max(60_000).default(1000),
        retention: z
          .strictObject({
            rawDays: z.number().positive().default(14),
            eventDays: z.number().positive().default(365),
            minuteDays: z.number().positive().default(180),
            hourDays: z
              .number()
              .positive()
              .default(5 * 365),
            /** How often the retention sweep runs. */
            intervalMs: z.number().int().min(1000).default(60_000),
            /** Rows deleted per step; each step is one short transaction, so the event loop never stalls long. */
            chunkRows: z.number().int().min(100).default(5_000),
            /** Keep rollup windows past their retention until HQ has acknowledged them (`POST /api/v1/hq/ack`)... */
            waitForHqAck: z.boolean().default(false),
            /** ...but at most this many days longer; past that they go, and stockyard_hq_ack_overdue fires. */
            hqAckCapDays: z.number().positive().default(30),
          })
          .prefault({}),
      })
      .prefault({}),
    http: z.strictObject({ port: port.default(8080) }).prefault({}),
    rules: z
      .strictObject({
        /** Directory of rule packs (`*.yaml`) and the SKU master (`skus.yaml` or `skus.csv`). */
        dir: z.string().min(1).default('./rules'),
        /** Apply edits to rule files without a restart (a bad pack is refused and the running one kept). */
        watch: z.boolean().default(true),
        /** Event-time windows stay open this long after their end for late points; later points are counted and dropped. */
        allowedLatenessMs: z.number().int().min(0).max(DAY).default(5_000),
        /** Flap damping: an alert changes state at most once in this time (a fire right after a resolve waits). */
        minStateChangeMs: z.number().int().min(0).max(DAY).default(0),
        /** Resolved alerts and state changes kept in the history. */
        historyDays: z.number().positive().default(30),
      })
      .prefault({}),
    notify: z
      .strictObject({
        /** Webhook targets by name; a rule notifies one with `webhook:<name>`. */
        webhooks: z
          .record(
            z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
            z.strictObject({
              url: z.url({ protocol: /^https?$/ }),
              /** Extra request headers, e.g. an Authorization for the receiver. */
              headers: z.record(z.string(), z.string()).default({}),
              timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
            }),
          )
          .default({}),
        /** Retries back off exponentially with full jitter from this... */
        retryBaseMs: z.number().int().min(10).default(1_000),
        /** ...up to this delay between attempts. */
        retryMaxMs: z.number().int().min(100).default(300_000),
        /** A notification still undelivered after this long is given up (kept as dead, counted in /metrics). */
        maxAgeMs: z
          .number()
          .int()
          .min(1000)
          .default(3 * DAY),
      })
      .prefault({}),
    /**
     * Replication of the embedded store to InfluxDB (off by default). Every point and event is written
     * to SQLite first and then sent from a durable cursor, so an outage or a restart loses nothing.
     */
    influx: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** v1: `POST /write` + InfluxQL (InfluxDB 1.x, and the 1.x compatibility API of 2.x/3.x). v2: `/api/v2/write` (2.x, 3.x, Cloud). */
        protocol: z.enum(['v1', 'v2']).default('v1'),
        url: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8086'),
        /** v1: database and retention policy ('' = the database's default policy). */
        database: z.string().min(1).default('stockyard'),
        retentionPolicy: z.string().default(''),
        /** v1: create the database when the server says it does not exist (needs an admin user when auth is on). */
        createDatabase: z.boolean().default(true),
        /** v1 credentials ('' = no auth); set the password with STOCKYARD_INFLUX_PASSWORD rather than in a file. */
        username: z.string().default(''),
        password: z.string().default(''),
        /** v2: organisation, bucket and API token (STOCKYARD_INFLUX_TOKEN). */
        org: z.string().default(''),
        bucket: z.string().default('stockyard'),
        token: z.string().default(''),
        /** Metric name -> measurement, added to (and overriding) the built-in families; see the README's schema mapping. */
        measurements: z.record(z.string(), z.string().min(1).max(128)).default({}),
        /** A batch is sent when it has this many lines... */
        batchLines: z.number().int().min(1).max(100_000).default(5_000),
        /** ...or when its oldest line has waited this long. */
        flushMs: z.number().int().min(0).max(60_000).default(1_000),
        /** Batches in flight at once (all lanes together). */
        concurrency: z.number().int().min(1).max(16).default(2),
        timeoutMs: z.number().int().min(100).max(300_000).default(30_000),
        /** Retries back off exponentially with full jitter from this... */
        retryBaseMs: z.number().int().min(10).default(1_000),
        /** ...up to this (also the cap on an honoured Retry-After). */
        retryMaxMs: z.number().int().min(100).default(60_000),
        /**
         * Niceness of the sink worker thread (Linux; 0-19). Replication is background work: when ingest
         * keeps every core busy it yields, falls behind (lag in /metrics) and catches up afterwards.
         */
        nice: z.number().int().min(0).max(19).default(19),
        /** An alert fires when unreplicated data is this close to being deleted by the store's retention. */
        retentionWarnMs: z.number().int().min(0).default(DAY),
      })
      .prefault({}),
    /** The dashboard definitions the built-in UI renders (one JSON file per page); a missing directory is no dashboards. */
    dashboards: z.strictObject({ dir: z.string().min(1).default('./dashboards') }).prefault({}),
    /**
     * Demand forecasting, inventory policy and SKU segmentation (gateway/analytics/), run on a worker
     * thread of its own: nightly at `refitAt`, at start when the last run is older than a day, and on
     * demand (`POST /api/v1/analytics/refit`).
     */
    analytics: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Time of day (UTC, HH:MM) of the nightly re-fit. */
        refitAt: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour, UTC')
          .default('02:00'),
        /** Days of daily demand kept per SKU and fitted on. */
        historyDays: z.number().int().min(7).max(3650).default(730),
        /** Days forecast ahead (also the reach of the forecast signals in rules). */
        horizonDays: z.number().int().min(1).max(366).default(28),
        /** Seasonal period of daily demand in days (7 = weekly; 1 = none). */
        period: z.number().int().min(1).max(366).default(7),
        /** Forecasting method, as `stockyard forecast --method` takes it. */
        method: z
          .string()
          .refine((m) => m in METHODS, { error: (iss) => `unknown method ${JSON.stringify(iss.input)}; one of ${Object.keys(METHODS).join(', ')}` })
          .default('auto'),
        /** Prediction interval levels in percent. */
        levels: z.array(z.number().gt(0).lt(100)).min(1).max(4).default([80, 95]),
        /** Rolling-origin backtest origins per SKU (0 = none); each origin forecasts one horizon. */
        backtestOrigins: z.number().int().min(0).max(12).default(3),
        /** Cycle service level the suggested safety stock is sized for. */
        serviceLevel: z.number().gt(0.5).lt(1).default(0.95),
        /** EOQ: cost of placing one order, in the unit of `unit_cost`. */
        orderCost: z.number().min(0).default(50),
        /** EOQ: holding cost per unit and year as a share of `unit_cost`... */
        holdingRate: z.number().gt(0).max(10).default(0.25),
        /** ...or this per unit and year for SKUs without a `unit_cost`. */
        holdingCost: z.number().gt(0).default(1),
        /** `suggest`: the suggested reorder point and safety stock are shown only; `apply`: written to the SKU master after each run. */
        policy: z.enum(['suggest', 'apply']).default('suggest'),
        /** ABC: cumulative value share that ends class A and class B. */
        abc: z.tuple([z.number().gt(0).lt(1), z.number().gt(0).lt(1)]).default([0.8, 0.95]),
        /** XYZ: coefficient of variation of daily demand that ends class X and class Y. */
        xyz: z.tuple([z.number().gt(0), z.number().gt(0)]).default([0.5, 1]),
        /** How often new scans are folded into daily demand and open shipments are checked against the dispatch model. */
        refreshMs: z.number().int().min(1000).max(DAY).default(60_000),
        /** A shipment should depart within this of its release; the lead-time regression flags those likely not to. */
        dispatchWithinMs: z
          .number()
          .int()
          .min(60_000)
          .default(4 * 3_600_000),
        /** Niceness of the analytics worker thread (Linux; 0-19): forecasting never competes with ingest. */
        nice: z.number().int().min(0).max(19).default(19),
      })
      .refine((a) => a.abc[0] < a.abc[1], { path: ['abc'], message: 'the A boundary must be below the B boundary, e.g. [0.8, 0.95]' })
      .refine((a) => a.xyz[0] < a.xyz[1], { path: ['xyz'], message: 'the X boundary must be below the Y boundary, e.g. [0.5, 1]' })
      .prefault({}),
    /** HQ's pull of closed rollup windows, events and alert changes (`/api/v1/hq/*`, role hq). */
    hq: z
      .strictObject({
        /** A window closes (HQ may pull it) this long after its end; data arriving later makes a new revision of it. */
        allowedLatenessMs: z
          .number()
          .int()
          .min(0)
          .max(DAY)
          .default(5 * 60_000),
      })
      .prefault({}),
    /**
     * Node-RED, embedded for low-code flows (gateway/nodered/): editor and admin API at `/red`, HTTP-in
     * nodes at `/hooks`, both behind the gateway's admin tokens. Runs on a worker thread of its own, so
     * a flow that crashes or spins never stops the broker or ingest.
     */
    nodeRed: z
      .strictObject({
        /** Off by default; `npm start` (the demo) turns it on. */
        enabled: z.boolean().default(false),
        /** The shipped flows (`*.json`, deployed on first start only) and custom nodes (`nodes/`). */
        flowsDir: z.string().min(1).default('./flows'),
        /**
         * Key that encrypts the flows' credentials in `DATA_DIR/node-red/flows_cred.json`. Set it from a
         * secret store (STOCKYARD_NODE_RED_CREDENTIAL_SECRET), never in a committed file; when empty the
         * gateway generates one into `DATA_DIR/node-red/credential-secret` (mode 0600) at first start.
         */
        credentialSecret: z.union([z.literal(''), z.string().min(16, 'at least 16 characters')]).default(''),
        /** Settings of the flows, read as `${NAME}` in node properties and `env.get(NAME)` in functions; merged over these defaults. */
        env: z.record(z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'UPPER_SNAKE_CASE'), z.string().max(4096)).default(FLOW_ENV_DEFAULTS),
        /** Topic filters Node-RED's internal MQTT client may use; default: read the whole site, write under `…/{site}/flows/`. */
        mqtt: z.strictObject({ publish: z.array(topicPattern).optional(), subscribe: z.array(topicPattern).optional() }).prefault({}),
        /** Niceness of the Node-RED thread (Linux; 0-19). */
        nice: z.number().int().min(0).max(19).default(5),
        /** Log level of Node-RED's own log, written to the gateway's log. */
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      })
      .prefault({}),
    /**
     * Simulated time, for `stockyard simulate` and tests: the gateway's clock reads `simEpoch` at real
     * time `realEpoch` and runs `rate` times faster. Default: real time.
     */
    clock: z
      .strictObject({
        rate: z.number().min(1).max(1_000_000).default(1),
        simEpoch: z.number().int().optional(),
        realEpoch: z.number().int().optional(),
      })
      .refine((c) => (c.simEpoch === undefined) === (c.realEpoch === undefined), 'set simEpoch and realEpoch together')
      .prefault({}),
    /** The built-in demo warehouse started by `stockyard demo` (`npm start`). */
    demo: z
      .strictObject({
        /** The scenario file the simulator plays in real time; default the built-in simulators/scenarios/small.yaml. */
        scenario: z.string().min(1).optional(),
        seed: z.number().int().min(0).default(1),
      })
      .prefault({}),
  })
  .check((ctx) => {
    const influx = ctx.value.influx
    const retention = ctx.value.store.retention
    const shortest = Math.min(retention.rawDays, retention.eventDays) * DAY
    if (influx.enabled && influx.retentionWarnMs >= shortest) {
      ctx.issues.push({
        code: 'custom',
        input: influx.retentionWarnMs,
        path: ['influx', 'retentionWarnMs'],
        message: `must be shorter than the store's shortest retention (${shortest} ms), or the at-risk alert would fire at any lag`,
      })
    }
    if (influx.enabled && influx.protocol === 'v2') {
      for (const key of ['org', 'token'] as const) {
        if (!influx[key]) ctx.issues.push({ code: 'custom', input: influx[key], path: ['influx', key], message: `required when influx.protocol is v2` })
      }
    }
    if (ctx.value.mqtt.maxPacketBytes < ctx.value.mqtt.maxPayloadBytes + 1024) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value.mqtt.maxPacketBytes,
        path: ['mqtt', 'maxPacketBytes'],
        message: 'must exceed mqtt.maxPayloadBytes by at least 1024 (topic and header)',
      })
    }
  })

export type Config = z.infer<typeof ConfigSchema>
export type ConfigInput = z.input<typeof ConfigSchema>
export type InternalClient = z.infer<typeof InternalClientSchema>
