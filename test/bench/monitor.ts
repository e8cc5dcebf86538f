/**
 * Vitals of a broker throughout a scenario: RSS from /proc every 250 ms, and for the gateway its
 * main thread's event-loop delay from /metrics every 2 s. prom-client's `nodejs_eventloop_lag_*`
 * gauges come from a `monitorEventLoopDelay` histogram that every scrape reads and resets, so each
 * scrape gives the p99 and max of the 2 s since the previous one. That histogram times its own
 * 10 ms timer (the gateway's `eventLoopMonitoringPrecision`), so an idle loop reads ~10 ms: we
 * subtract the 10 ms and report only the delay beyond it.
 */
import { procRssMb } from './proc.ts'
import type { Target } from './targets/types.ts'

/** gateway/metrics.ts: `collectDefaultMetrics({ eventLoopMonitoringPrecision: 10 })`. */
const LAG_RESOLUTION_MS = 10

export interface Vitals {
  rssPeakMb: number
  /** Event-loop delay beyond the timer's resolution; null when /metrics was not readable. */
  lagMaxMs: number | null
  /** The median of the per-2-s-window p99s. */
  lagP99Ms: number | null
  /** The worst per-window p99. */
  lagWorstP99Ms: number | null
  windows: number
}

/** Start sampling `target`; `stop()` returns what was seen since. */
export function monitor(target: Pick<Target, 'pid' | 'http'>, opts: { rssEveryMs?: number; lagEveryMs?: number } = {}): { stop(): Promise<Vitals> } {
  let peak = procRssMb(target.pid) ?? 0
  const rssTimer = setInterval(() => (peak = Math.max(peak, procRssMb(target.pid) ?? 0)), opts.rssEveryMs ?? 250)
  const p99s: number[] = []
  let max: number | null = null
  const http = target.http?.token ? { port: target.http.port, token: target.http.token } : null
  let inFlight: Promise<void> = Promise.resolve()
  const scrapeOnce = async (record: boolean): Promise<void> => {
    if (!http) return
    const lag = await scrapeLag(http.port, http.token)
    if (!lag || !record) return
    p99s.push(Math.max(0, lag.p99Ms - LAG_RESOLUTION_MS))
    max = Math.max(max ?? 0, lag.maxMs - LAG_RESOLUTION_MS)
  }
  // The first scrape only resets the histogram: what came before this scenario is not its own.
  inFlight = scrapeOnce(false)
  const lagTimer = setInterval(() => {
    inFlight = inFlight.then(() => scrapeOnce(true))
  }, opts.lagEveryMs ?? 2000)
  return {
    async stop() {
      clearInterval(rssTimer)
      clearInterval(lagTimer)
      peak = Math.max(peak, procRssMb(target.pid) ?? 0)
      await inFlight.then(() => scrapeOnce(true))
      const sorted = [...p99s].sort((a, b) => a - b)
      return {
        rssPeakMb: peak,
        lagMaxMs: max,
        lagP99Ms: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : null,
        lagWorstP99Ms: sorted.length ? sorted[sorted.length - 1]! : null,
        windows: sorted.length,
      }
    },
  }
}

/** Run `body` while `target` is monitored; returns its value and the vitals. */
export async function withVitals<T>(target: Pick<Target, 'pid' | 'http'>, body: () => Promise<T>): Promise<{ value: T; vitals: Vitals }> {
  const m = monitor(target)
  try {
    const value = await body()
    return { value, vitals: await m.stop() }
  } catch (err) {
    await m.stop() // stop the timers; the vitals of a failed body go with it
    throw err
  }
}

/** nodejs_eventloop_lag_{p99,max}_seconds from /metrics, in ms (resolution included); null on failure. */
async function scrapeLag(port: number, token: string): Promise<{ p99Ms: number; maxMs: number } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) })
    if (!res.ok) return null
    const text = await res.text()
    const read = (name: string): number | null => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
      return m ? Number(m[1]) * 1000 : null
    }
    const p99Ms = read('nodejs_eventloop_lag_p99_seconds')
    const maxMs = read('nodejs_eventloop_lag_max_seconds')
    return p99Ms === null || maxMs === null ? null : { p99Ms, maxMs }
  } catch {
    return null
  }
}
