/**
 * The bench scenarios. Each runs the forked load generator against one started target while
 * sampling the target's RSS and CPU from /proc, and returns plain figures for the report.
 */
import { runLoadInChild } from '../../simulators/loadgen/fork.ts'
import type { LoadMode, LoadResult } from '../../simulators/loadgen/types.ts'
import { sampleProcess, type ProcessSample } from './proc.ts'
import type { Target } from './targets/types.ts'

export interface BenchConfig {
  quick: boolean
  connections: number
  window: number
  ingestRuns: number
  ingestMs: number
  /** The rule scenario's background rate. */
  latencyRate: number
  latencyMs: number
  /** Ack latency at fixed rates: these rates, `rateRuns` runs of `rateMs` each. */
  rates: number[]
  rateRuns: number
  rateMs: number
}

/** min / median / max of a figure over runs. */
export interface Spread {
  min: number
  median: number
  max: number
  runs: number
}

export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b)
  return { min: s[0] ?? 0, median: s[Math.floor(s.length / 2)] ?? 0, max: s[s.length - 1] ?? 0, runs: s.length }
}

export interface RunFigures {
  load: LoadResult
  brokerCpuCores: number
  brokerRssPeakMb: number
  /** Machine CPU not used by the broker or the generator during the run: anything else competing. */
  otherCpuCores: number
}

export interface IngestFigures {
  runs: RunFigures[]
  min: number
  median: number
  max: number
}

// Each run of a process gets its own seq range, so (seq, ts) stays unique per device across runs
// even if two runs ever shared a millisecond.
let runCounter = 0

export interface MeasureOptions {
  /** Sending has begun. */
  onStart?: () => void
  /** Messages per pre-encoded chunk, i.e. per `ts` stamp (loadgen default 2,048). */
  chunkSize?: number
}

/** One generator run against `target`; the broker's CPU and RSS are sampled over the send phase. */
export async function measure(target: Target, cfg: BenchConfig, mode: LoadMode, durationMs: number, opts: MeasureOptions = {}): Promise<RunFigures> {
  let sampler: ReturnType<typeof sampleProcess> | null = null
  let broker: ProcessSample = { rssPeakMb: 0, cpuCores: 0, machineCores: 0 }
  const stopSampling = (): void => {
    if (sampler) broker = sampler.stop()
    sampler = null
  }
  try {
    const load = await runLoadInChild(
      {
        host: '127.0.0.1',
        port: target.port,
        site: target.site,
        devices: target.devices,
        mode,
        durationMs,
        window: cfg.window,
        seqStart: 1 + runCounter++ * 100_000_000,
        ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
      },
      {
        onStart: () => {
          sampler = sampleProcess(target.pid)
          opts.onStart?.()
        },
        onSendEnd: stopSampling,
      },
    )
    const otherCpuCores = Math.max(0, broker.machineCores - broker.cpuCores - load.cpuCores)
    return { load, brokerCpuCores: broker.cpuCores, brokerRssPeakMb: broker.rssPeakMb, otherCpuCores }
  } finally {
    stopSampling()
  }
}

export const WARMUP_MS = 3000

/** Max QoS 1 ingest: a warm-up, then `ingestRuns` runs of `ingestMs`, every window kept full. */
export async function maxIngest(target: Target, cfg: BenchConfig, log: (s: string) => void): Promise<IngestFigures> {
  const runs: RunFigures[] = []
  // One unrecorded run first, the same for every target: JIT warm-up, worker start, file growth.
  const warm = await measure(target, cfg, { kind: 'max' }, WARMUP_MS)
  log(`  warm-up (not recorded): ${fmtRate(warm.load.rate)} msg/s`)
  for (let i = 0; i < cfg.ingestRuns; i++) {
    const r = await measure(target, cfg, { kind: 'max' }, cfg.ingestMs)
    log(
      `  max ingest run ${i + 1}/${cfg.ingestRuns}: ${fmtRate(r.load.rate)} msg/s, unacked ${r.load.unacked}, broker ${r.brokerCpuCores.toFixed(2)} cores, generator ${r.load.cpuCores.toFixed(2)} cores, other ${r.otherCpuCores.toFixed(2)} cores`,
    )
    runs.push(r)
  }
  const rates = runs.map((r) => r.load.rate).sort((a, b) => a - b)
  return { runs, min: rates[0]!, median: rates[Math.floor(rates.length / 2)]!, max: rates[rates.length - 1]! }
}

/** Publish -> PUBACK latency at a fixed total rate. */
export async function latencyAtRate(target: Target, cfg: BenchConfig, log: (s: string) => void): Promise<RunFigures> {
  const r = await measure(target, cfg, { kind: 'rate', msgPerSec: cfg.latencyRate }, cfg.latencyMs)
  const l = r.load.latencyMs
  log(
    `  latency @ ${cfg.latencyRate} msg/s: p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms; sent ${r.load.sent}, acked ${r.load.acked}, max backlog ${r.load.maxBacklog}`,
  )
  return r
}

/** Publish -> PUBACK latency at each of `cfg.rates`, `cfg.rateRuns` runs each (rates in turn: 1k 5k 10k 1k 5k 10k …). */
export async function latencyAtRates(target: Target, cfg: BenchConfig, log: (s: string) => void): Promise<Map<number, RunFigures[]>> {
  const out = new Map<number, RunFigures[]>(cfg.rates.map((r) => [r, []]))
  for (let i = 0; i < cfg.rateRuns; i++) {
    for (const rate of cfg.rates) {
      const r = await measure(target, cfg, { kind: 'rate', msgPerSec: rate }, cfg.rateMs)
      const l = r.load.latencyMs
      log(
        `  ack latency @ ${rate} msg/s, run ${i + 1}/${cfg.rateRuns}: p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms; achieved ${fmtRate(r.load.rate)} msg/s, unacked ${r.load.unacked}`,
      )
      out.get(rate)!.push(r)
    }
  }
  return out
}

export function fmtRate(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
