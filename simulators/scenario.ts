/**
 * The scenario file of `stockyard simulate` (simulators/scenarios/*.yaml): the site, its zones, SKUs,
 * devices, shipments, incidents and faults. Validated with zod; every error names the file and the path.
 * Durations are written like the rule packs' (30s, 10m, 4h, 1d).
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { formatIssues } from '../gateway/config/load.ts'
import { StockyardError } from '../gateway/core/errors.ts'
import { duration, positiveDuration } from '../gateway/rules/duration.ts'
import { devicesOf } from './model.ts'

const rate = z.number().min(0).max(1)
const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lowercase letters, digits and -, at most 32')

const zone = z.strictObject({
  id: name,
  kind: z.enum(['ambient', 'cold', 'freezer', 'dock']),
  /** Air temperature the zone is held at (°C); the room drifts back to it with `tau`. */
  setpoint: z.number(),
  /** The zone's alarm limit (°C): above it is an excursion (cold and freezer). */
  limit: z.number().optional(),
  /** Temperature outside the zone, where a failed compressor lets it drift. */
  outside: z.number().default(20),
  /** Time constant of the room: after tau it has gone 63 % of the way to its target. */
  tau: positiveDuration.default(1_800_000),
  /** Door openings per hour, each warming the air by `doorWarmC`. */
  doorsPerHour: z.number().min(0).default(0),
  doorWarmC: z.number().min(0).default(1),
})

const demand = z.strictObject({
  /** Mean units a day. */
  perDay: z.number().positive(),
  /** fast/slow: demand on every day; intermittent: only on a `dayChance` share of days (many zero days). */
  pattern: z.enum(['fast', 'slow', 'intermittent']).default('fast'),
  dayChance: rate.default(0.3),
  /** Daily shape: demand only in these hours of the day (UTC), weighted to peak mid-shift. */
  hours: z.tuple([z.number().int().min(0).max(23), z.number().int().min(1).max(24)]).default([6, 22]),
  /** Weekly seasonality: weight per day, Monday first. */
  weekly: z.array(z.number().min(0)).length(7).default([1, 1, 1, 1, 1.2, 0.6, 0.2]),
  /** Trend: relative growth a day (0.01 = +1 % a day). */
  trend: z.number().default(0),
  /** Promotions: demand times `factor` between `from` and `to` (durations from the start). */
  promotions: z.array(z.strictObject({ from: duration, to: duration, factor: z.number().positive() })).default([]),
  /** Units per pick line: 1 + Poisson(linesMean - 1). */
  lineMean: z.number().min(1).default(2),
})

const sku = z.strictObject({
  sku: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/#+-]{0,127}$/),
  bin: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/#+-]{0,127}$/),
  unitWeightKg: z.number().positive(),
  initial: z.number().int().min(0),
  reorderPoint: z.number().int().min(0),
  /** Units per replenishment order (whole cases). */
  orderQty: z.number().int().positive(),
  leadTime: positiveDuration,
  demand,
  /** A shelf scale under the bin. */
  scale: z.boolean().default(false),
})

const faults = z
  .strictObject({
    /** Share of messages sent twice (same seq and ts): counted as seq.duplicate. */
    duplicates: rate.default(0),
    /** Share of messages held back 1-10 minutes and sent after newer ones (accepted; stock must not care). */
    outOfOrder: rate.default(0),
    /** Share of messages that are not JSON: payload.not_json. */
    malformed: rate.default(0),
    /** Share of messages that break their schema: payload.invalid. */
    invalid: rate.default(0),
    /** Share of messages over the payload limit: payload.too_large. */
    oversized: rate.default(0),
    /** Share of messages stamped an hour ahead (a device clock off): ts.future. */
    clockSkew: rate.default(0),
    /** Share of messages published on another device's topic: topic.not_allowed. */
    foreignTopic: rate.default(0),
    /** Connection attempts with a wrong password over the run: bad_password. */
    wrongCredentials: z.number().int().min(0).default(0),
    /** Dropouts a device a day; the device keeps its messages and sends them when back (store and forward). */
    dropoutsPerDeviceDay: z.number().min(0).default(0),
    dropoutLength: positiveDuration.default(300_000),
    /** Reconnect storms over the run: every device drops at once and all come back within `stormSpread`. */
    reconnectStorms: z.number().int().min(0).default(0),
    stormSpread: positiveDuration.default(30_000),
  })
  .prefault({})

export const ScenarioSchema = z.strictObject({
  name,
  description: z.string().default(''),
  /** Length of the simulated run. */
  duration: positiveDuration,
  /** Simulated start (ISO 8601 or epoch ms); default: the real time the run starts. */
  start: z.union([z.iso.datetime({ offset: true }), z.number().int()]).optional(),
  /** Model step: events inside a step are spread over it. */
  step: positiveDuration.default(60_000),
  zones: z.array(zone).min(1),
  skus: z.array(sku).min(1),
  devices: z
    .strictObject({
      /** One environment sensor per zone of these kinds. */
      envEvery: positiveDuration.default(60_000),
      scaleEvery: positiveDuration.default(300_000),
      heartbeatEvery: positiveDuration.default(300_000),
      scanners: z.number().int().min(1).default(2),
      /** Scale noise (kg, one standard deviation) and drift (kg a day). */
      scaleNoiseKg: z.number().min(0).default(0.05),
      scaleDriftKgPerDay: z.number().default(0),
    })
    .prefault({}),
  shipments: z
    .strictObject({
      perDay: z.number().min(0).default(0),
      /** The dispatch SLA: loaded within this long of release. */
      loadWithin: positiveDuration.default(4 * 3_600_000),
      /** Release to loaded: a normal duration (mean, sd), at least 30 minutes. */
      loadMean: positiveDuration.default(2 * 3_600_000),
      loadSd: duration.default(3_600_000),
    })
    .prefault({}),
  incidents: z
    .strictObject({
      /** A cold room's compressor stops at `at` (from the start) for `for`: the room warms for real. */
      compressorFailures: z.array(z.strictObject({ zone: name, at: duration, for: positiveDuration })).default([]),
      /** A device's battery dies at `at`: it stops sending. */
      batteryDeaths: z.array(z.strictObject({ device: z.string(), at: duration })).default([]),
      /** A truck is late: a shipment released at `at` is loaded `late` after its deadline. */
      lateTrucks: z.array(z.strictObject({ at: duration, late: positiveDuration })).default([]),
      /** A supplier is late: the SKU's orders placed in [from, to) take `extra` longer. */
      supplierDelays: z.array(z.strictObject({ sku: z.string(), from: duration, to: duration, extra: positiveDuration })).default([]),
    })
    .prefault({}),
  faults,
  /** Rule ids the check matches incidents with; an incident kind without a rule is not checked. */
  check: z
    .strictObject({
      excursion: z.string().optional(),
      stockout: z.string().optional(),
      late_shipment: z.string().optional(),
      device_death: z.string().optional(),
    })
    .prefault({}),
})

export type Scenario = z.output<typeof ScenarioSchema>
export type ZoneSpec = Scenario['zones'][number]
export type SkuSpec = Scenario['skus'][number]

export function parseScenario(text: string, file: string): Scenario {
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw new StockyardError('request.invalid', `${file}: not valid YAML: ${(err as Error).message}`)
  }
  const parsed = ScenarioSchema.safeParse(raw)
  if (!parsed.success) throw new StockyardError('request.invalid', `${file}: scenario refused:\n  ${formatIssues(parsed.error).join('\n  ')}`)
  const s = parsed.data
  const zones = new Set(s.zones.map((z) => z.id))
  const problems: string[] = []
  for (const f of s.incidents.compressorFailures) if (!zones.has(f.zone)) problems.push(`incidents.compressorFailures: no zone ${f.zone}`)
  const skus = new Set<string>()
  for (const k of s.skus) {
    if (skus.has(k.sku)) problems.push(`skus: ${k.sku} is listed twice`)
    skus.add(k.sku)
  }
  for (const d of s.incidents.supplierDelays) if (!skus.has(d.sku)) problems.push(`incidents.supplierDelays: no SKU ${d.sku}`)
  const devices = new Set(devicesOf(s).map((d) => d.id))
  for (const b of s.incidents.batteryDeaths) {
    if (!devices.has(b.device)) problems.push(`incidents.batteryDeaths: no device ${b.device}; the scenario's devices are ${[...devices].join(', ')}`)
  }
  if (problems.length) throw new StockyardError('request.invalid', `${file}: scenario refused:\n  ${problems.join('\n  ')}`)
  return s
}

export function loadScenario(file: string): Scenario {
  return parseScenario(readFileSync(file, 'utf8'), file)
}
