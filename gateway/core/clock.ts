/** Time source for everything that waits or stamps (retention, heartbeats, windows). Tests inject a manual clock. */
export interface Clock {
  now(): number
}

/** A clock that can also wake a callback at a time: the rule engine's `for`, absence and deadline timers. */
export interface TimerClock extends Clock {
  /** Call `fn` once at `at` (ms since the epoch; a time in the past means soon). Returns a cancel function. */
  setTimer(at: number, fn: () => void): () => void
}

export const systemClock: Clock = { now: () => Date.now() }

/** Real time with real timers; the timers never keep the process alive on their own. */
export const systemTimerClock: TimerClock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    // setTimeout overflows above 2^31-1 ms (~24.8 days): wake early and re-arm.
    const MAX = 2_147_483_647
    let handle: NodeJS.Timeout
    const arm = (): void => {
      const wait = at - Date.now()
      handle = setTimeout(wait > MAX ? arm : fn, Math.max(0, Math.min(wait, MAX)))
      handle.unref()
    }
    arm()
    return () => clearTimeout(handle)
  },
}

/**
 * Simulated time running `rate` times faster than real time: at real time `realEpoch` it is `simEpoch`.
 * Two clocks made from the same three numbers agree wherever they run (the broker thread, the ingest
 * worker, the simulator), so a warehouse day can be played through the whole gateway in minutes,
 * `for` durations and SLA deadlines included.
 */
export function scaledClock(opts: { rate: number; simEpoch: number; realEpoch: number }): TimerClock {
  const { rate, simEpoch, realEpoch } = opts
  const now = (): number => simEpoch + (Date.now() - realEpoch) * rate
  return {
    now,
    setTimer(at, fn) {
      const MAX = 2_147_483_647
      let handle: NodeJS.Timeout
      const arm = (): void => {
        const wait = (at - now()) / rate
        handle = setTimeout(wait > MAX ? arm : fn, Math.max(0, Math.min(Math.ceil(wait), MAX)))
        handle.unref()
      }
      arm()
      return () => clearTimeout(handle)
    },
  }
}

/** The clock the config asks for: real time, or `clock.rate` simulated time (see `scaledClock`). */
export function clockOf(config: { clock: { rate: number; simEpoch?: number | undefined; realEpoch?: number | undefined } }): TimerClock {
  const { rate, simEpoch, realEpoch } = config.clock
  if (rate === 1 && simEpoch === undefined) return systemTimerClock
  const real = realEpoch ?? Date.now()
  return scaledClock({ rate, simEpoch: simEpoch ?? real, realEpoch: real })
}

interface ManualTimer {
  at: number
  seq: number
  fn: () => void
}

/** A clock that moves only when told to; for tests. Timers fire, in time order, as `advance`/`set` pass them. */
export class ManualClock implements TimerClock {
  private timers: ManualTimer[] = []
  private seq = 0

  constructor(private t: number = 0) {}

  now(): number {
    return this.t
  }

  setTimer(at: number, fn: () => void): () => void {
    const timer = { at, seq: this.seq++, fn }
    this.timers.push(timer)
    return () => {
      this.timers = this.timers.filter((x) => x !== timer)
    }
  }

  /** Move to `t`, firing every timer due on the way at its own time (a timer set by a timer fires too, if due). */
  set(t: number): void {
    for (;;) {
      let next: ManualTimer | undefined
      for (const x of this.timers) if (x.at <= t && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x
      if (!next) break
      this.timers = this.timers.filter((x) => x !== next)
      this.t = Math.max(this.t, next.at)
      next.fn()
    }
    this.t = t
  }

  advance(ms: number): void {
    this.set(this.t + ms)
  }

  /** Timers not yet fired. */
  pending(): number {
    return this.timers.length
  }
}
