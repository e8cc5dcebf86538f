/**
 * `stockyard simulate`: play a scenario through a gateway and, with --check, compare what the gateway
 * saw with the ground truth.
 *
 * By default the simulator starts its own gateway (a temp data dir unless --data, ephemeral ports on
 * 127.0.0.1, the rules in simulators/scenarios/rules/) on the simulation's clock, so an accelerated run
 * is simulated time for the gateway too: windows, `for`, deadlines and silences all run at the same
 * speed. With --mqtt the devices go to a gateway that is already running instead; its data dir
 * (--data) is where they are registered. That gateway runs on real time, so only --accelerate 1 fits it.
 */
import { createWriteStream, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { SingleBar } from 'cli-progress'
import { parseFlags, printJson } from '../gateway/cli/args.ts'
import { loadConfig } from '../gateway/config/load.ts'
import { scaledClock, systemClock, type Clock } from '../gateway/core/clock.ts'
import { StockyardError } from '../gateway/core/errors.ts'
import { createLogger } from '../gateway/core/log.ts'
import { startGateway } from '../gateway/gateway.ts'
import { openSqliteStore } from '../gateway/store/sqlite/index.ts'
import type { DeviceRegistry } from '../gateway/store/types.ts'
import { checkRun, readCounters, renderReport, type CheckReport } from './check.ts'
import { drive, type DriveResult, type Playable } from './driver.ts'
import { ReplayModel } from './replay.ts'
import { WarehouseModel, type SimDevice, type TruthRecord } from './model.ts'
import { loadScenario, type Scenario } from './scenario.ts'

export const SIM_RULES_DIR = new URL('./scenarios/rules/', import.meta.url).pathname
/** The built-in scenario of `stockyard demo` and of `simulate` without --scenario. */
export const DEFAULT_SCENARIO = new URL('./scenarios/small.yaml', import.meta.url).pathname

/** Register the scenario's devices (a device already registered gets a new password); returns the passwords. */
export async function provision(devices: DeviceRegistry, site: string, sim: readonly SimDevice[]): Promise<Map<string, string>> {
  const passwords = new Map<string, string>()
  for (const d of sim) {
    const creds = devices.get(d.id) ? await devices.rotate(d.id) : await devices.add({ id: d.id, kind: d.kind, site, zone: d.zone })
    passwords.set(d.id, creds.password)
  }
  return passwords
}

/** The simulated start of a run: the scenario's, or now rounded to the step (always, on real time). */
export function startOf(s: Scenario, now: number, realTime: boolean): number {
  if (s.start !== undefined && !realTime) return typeof s.start === 'number' ? s.start : Date.parse(s.start)
  return Math.ceil(now / s.step) * s.step
}

export interface SimulateResult {
  drive: DriveResult
  report?: CheckReport
  truthFile: string
}

export async function runSimulate(argv: string[]): Promise<SimulateResult> {
  const { values } = parseFlags(argv, {
    scenario: { type: 'string' },
    replay: { type: 'string' },
    seed: { type: 'string' },
    accelerate: { type: 'string' },
    data: { type: 'string' },
    mqtt: { type: 'string' },
    api: { type: 'string' },
    token: { type: 'string' },
    truth: { type: 'string' },
    rules: { type: 'string' },
    site: { type: 'string' },
    check: { type: 'boolean' },
    quiet: { type: 'boolean' },
  })
  const replay = values.replay
  if (replay !== undefined && (values.scenario !== undefined || values.seed !== undefined || values.check || values.truth !== undefined)) {
    throw new StockyardError(
      'request.invalid',
      '--replay plays a recording: it takes no --scenario, --seed, --truth or --check (a recording has no ground truth)',
    )
  }
  const seed = Number(values.seed ?? 1)
  const rate = Number(values.accelerate ?? 1)
  if (!Number.isSafeInteger(seed) || seed < 0) throw new StockyardError('request.invalid', `--seed must be a whole number >= 0, got ${values.seed}`)
  if (!(rate >= 1 && rate <= 100_000)) throw new StockyardError('request.invalid', `--accelerate must be 1 to 100000, got ${values.accelerate}`)
  const external = values.mqtt !== undefined
  if (external && rate !== 1) {
    throw new StockyardError(
      'request.invalid',
      '--accelerate needs the simulator to start its own gateway on simulated time (leave out --mqtt); a running gateway is on real time',
    )
  }
  if (external && values.data === undefined)
    throw new StockyardError('request.invalid', "--mqtt needs --data: the running gateway's data dir, where the devices are registered")

  const realEpoch = Date.now() + 5000
  let scenario: Scenario | undefined
  let model: Playable
  let name: string
  let truthFile = ''
  const truth: TruthRecord[] = []
  let closeTruth = async (): Promise<void> => undefined
  const dataDir = values.data ?? mkdtempSync(join(tmpdir(), 'stockyard-sim-'))
  if (replay !== undefined) {
    model = ReplayModel.fromFile(replay)
    name = basename(replay)
  } else {
    scenario = loadScenario(values.scenario ?? DEFAULT_SCENARIO)
    name = scenario.name
    truthFile = values.truth ?? join(dataDir, `truth-${scenario.name}-${seed}.ndjson`)
    const out = createWriteStream(truthFile)
    closeTruth = () => new Promise<void>((resolve) => out.end(resolve))
    model = new WarehouseModel(scenario, seed, startOf(scenario, realEpoch, external), (r) => {
      truth.push(r)
      out.write(JSON.stringify(r) + '\n')
    })
  }
  // A scenario on a running gateway is played in real time; anything else on the simulated clock.
  const clock: Clock = external && !replay ? systemClock : scaledClock({ rate, simEpoch: model.start, realEpoch })

  let stop = async (): Promise<void> => undefined
  let mqttUrl = values.mqtt ?? ''
  let api = values.api ?? 'http://127.0.0.1:8080'
  let passwords: Map<string, string>
  let token = values.token
  let site: string
  if (external) {
    const store = openSqliteStore({ dataDir, synchronous: 'NORMAL' })
    try {
      site = values.site ?? loadConfig({ env: process.env, overrides: { dataDir } }).site
      passwords = await provision(store.devices, site, model.devices)
      token ??= store.tokens.add('viewer', 'simulate').token
    } finally {
      store.close()
    }
  } else {
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir,
        mqtt: { port: 0, wsPort: 0 },
        http: { port: 0 },
        log: { level: values.quiet ? 'error' : 'warn' },
        clock: { rate, simEpoch: model.start, realEpoch },
        // At 3,600 x a millisecond of real delay is 3.6 simulated seconds: give windows that much room.
        rules: { dir: values.rules ?? SIM_RULES_DIR, watch: false, allowedLatenessMs: Math.max(5000, Math.min(3_600_000, rate * 50)) },
      },
    })
    const gw = await startGateway(config, { logger: createLogger(config.log.level) })
    stop = () => gw.stop()
    mqttUrl = `mqtt://127.0.0.1:${gw.ports.mqtt}`
    api = `http://127.0.0.1:${gw.ports.http}`
    site = config.site
    passwords = await provision(gw.store.devices, site, model.devices)
    token ??= gw.store.tokens.add('viewer', 'simulate').token
  }
  try {
    const baseline = values.check ? await readCounters(api, token) : undefined
    const minutes = Math.round((model.end - model.start) / 60_000)
    const bar =
      values.quiet || !process.stderr.isTTY ? undefined : new SingleBar({ format: `simulate ${name} [{bar}] {percentage}% | {value}/{total} simulated min` })
    bar?.start(minutes, 0)
    const result = await drive({ model, url: mqttUrl, site, passwords, clock, onProgress: (done) => bar?.update(Math.round(done * minutes)) })
    bar?.stop()
    await closeTruth()
    if (!values.check || !scenario) {
      if (!values.quiet) printJson({ data: dataDir, ...(truthFile && { truth: truthFile }), ...result })
      return { drive: result, truthFile }
    }
    // Let the last batch commit and the rules see it.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const report = await checkRun({ api, token, truth, scenario, ...(baseline && { baseline }) })
    if (!values.quiet) process.stdout.write(renderReport(report) + '\n')
    if (!report.ok) process.exitCode = 1
    return { drive: result, report, truthFile }
  } finally {
    await stop()
  }
}
