/**
 * Event-time window aggregation for one series of one `threshold` rule (`conditions/threshold.ts`). Pure: no
 * timers, no I/O, no clock. The engine passes each point's event time to `add()`, processing time to
 * `advance()`, and sets one timer from `nextDue()`. Times are ms; S = size, E = every, L = latenessMs.
 *
 * Windows, and what a result's `start`/`end` mean:
 * - tumbling: windows [kS, (k+1)S); a result is {start: kS, end: (k+1)S}.
 * - sliding with every: evaluation instants t = kE; the result at t covers (t - S, t]: {start: t - S, end: t}.
 * - sliding without every: one result per accepted point, over (W - S, W] where W is the watermark (the largest
 *   event ts seen) after the point: {start: W - S, end: W}.
 *
 * Finality and lateness (tumbling, sliding with every). Progress is the larger of the watermark and the largest
 * `now` given to `advance()`. A window or instant ending at t is final once progress >= t + L: it is then emitted
 * once (if it has points and the aggregate is defined) and never revised. A point is 'late' when every window it
 * belongs to is final (tumbling: its own window; sliding: the last instant whose range holds it); it is not folded
 * anywhere, the caller counts it. A point some of whose instants are final is folded into the others only, so
 * late data never lands in a window that was already evaluated. Out-of-order points within the lateness land in
 * their own window; several windows may be open at once. (With L = 0 a sliding instant t is final as soon as a point
 * at t arrives, so another point at exactly t misses it; give some lateness if devices repeat timestamps.)
 *
 * Sliding without every: the window always ends at the watermark, so a point with ts <= W - S can change no
 * present or future result and is 'late', whatever L is. A point in (W - S, W] that arrives out of order is folded
 * and the window re-evaluated: the result has the same `end` (W) and the new value. L plays no part (no result is
 * held back), `advance()` returns nothing and `nextDue()` is undefined.
 *
 * Aggregates: avg, min, max, sum, count as usual. rate = (last value - first value) / seconds between the first and
 * the last point by ts (ties: first to arrive is first, last to arrive is last), a counter's increase per second;
 * no result with fewer than 2 points or a zero span; counter resets are not corrected. p95 = nearest rank: the
 * ceil(0.95 n)-th smallest of n values (n = 1: the value; n = 20: the 19th; n = 100: the 95th).
 *
 * Cost: sliding without every keeps its window's points sorted by ts (appends when in order) and aggregates
 * sum/avg/min/max with two stacks (amortized O(1) a point, and sums are never subtracted, so they do not drift);
 * p95 keeps the values in sorted blocks (`sorted.ts`: O(log n + 512) a point, O(n / 512) a result). Tumbling and sliding with every keep one accumulator ("pane") per
 * gcd(S, E) step that has points instead of the points; only p95 keeps values.
 * Memory: at most `maxPoints` (default 100,000) points, panes and p95 values per series. Past it, sliding without
 * every drops its oldest points (the window then covers the newest maxPoints points); panes keep every other p95
 * value of their biggest pane (p95 of a uniform sample; count and the other aggregates stay exact), and with more
 * panes than the cap (a window of 100,000 gcd steps) the oldest pane is dropped.
 * Preconditions: ts and value are finite (the payload contracts guarantee it).
 */

import { SortedBlocks } from './sorted.ts'

export type WindowAgg = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'rate' | 'p95'
export interface WindowSpec {
  type: 'tumbling' | 'sliding'
  size: number
  every?: number
  agg: WindowAgg
  /**
   * More aggregates of the same points, in `values` of each result (p95 excepted: it keeps values of
   * its own). Lets several rules with one window but different aggregates share one copy of the points.
   */
  also?: readonly Exclude<WindowAgg, 'p95'>[]
  latenessMs: number
}
export interface WindowResult {
  value: number
  start: number
  end: number
  count: number
  /** With `also`: each of those aggregates that is defined (rate needs 2 points and a span). */
  values?: Partial<Record<WindowAgg, number>>
}
export interface WindowOptions {
  /** Points, panes and p95 values kept per series (default `MAX_POINTS`). */
  maxPoints?: number
}

/** The default cap on what one series keeps; see the module comment for what happens past it. */
export const MAX_POINTS = 100_000

/** "Nothing became final": shared and frozen, so the hot path does not allocate. */
const NONE = Object.freeze([]) as unknown as WindowResult[]

interface Windows {
  add(ts: number, value: number): WindowResult[] | 'late'
  fold(ts: number, value: number): boolean
  take(): WindowResult | undefined
  advance(now: number): WindowResult[]
  nextDue(): number | undefined
}

/**
 * The windows of one series of one threshold rule. Not shared between series or rules; no method throws once
 * constructed.
 * @example
 * const w = new SeriesWindow({ type: 'tumbling', size: 60_000, agg: 'avg', latenessMs: 5_000 })
 * w.add(1_000, 7.5) // [] (the window [0, 60000) is open)
 * w.advance(65_000) // [{ value: 7.5, start: 0, end: 60_000, count: 1 }]
 */
export class SeriesWindow implements Windows {
  private readonly impl: Windows

  /** Throws a RangeError for a spec the rule schema would refuse (sizes are positive whole ms). */
  constructor(spec: WindowSpec, options: WindowOptions = {}) {
    const maxPoints = options.maxPoints ?? MAX_POINTS
    checkSpec(spec, maxPoints)
    this.impl = spec.type === 'sliding' && spec.every === undefined ? new PointWindow(spec, maxPoints) : new PaneWindows(spec, maxPoints)
  }

  /** Adds one point; 'late' (not folded), or the results that became final (possibly none; don't mutate). */
  add(ts: number, value: number): WindowResult[] | 'late' {
    return this.impl.add(ts, value)
  }

  /**
   * `add` for a caller that looks once per batch: folds the point (false: late, not folded) and
   * keeps only what `take()` will need, allocating nothing.
   */
  fold(ts: number, value: number): boolean {
    return this.impl.fold(ts, value)
  }

  /**
   * The newest result since the last `take()`, or undefined: for sliding without every, the window's
   * value now if a point was folded since; otherwise the last window that became final during `fold`.
   */
  take(): WindowResult | undefined {
    return this.impl.take()
  }

  /** Processing-time progress: emits windows whose end + latenessMs <= now. */
  advance(now: number): WindowResult[] {
    return this.impl.advance(now)
  }

  /** The earliest `now` at which advance() may emit (a rate over one point emits nothing), or undefined. */
  nextDue(): number | undefined {
    return this.impl.nextDue()
  }
}

function checkSpec(spec: WindowSpec, maxPoints: number): void {
  const whole = (n: number | undefined) => n !== undefined && Number.isSafeInteger(n) && n > 0
  let problem: string | undefined
  if (!whole(spec.size)) problem = `size ${spec.size} is not a positive whole number of ms`
  else if (spec.every !== undefined && (spec.type === 'tumbling' || !whole(spec.every) || spec.every > spec.size)) {
    problem = `every ${spec.every} needs a sliding window and a positive whole number of ms no longer than size ${spec.size}`
  } else if (!(spec.latenessMs >= 0 && Number.isFinite(spec.latenessMs))) problem = `latenessMs ${spec.latenessMs} is not a duration >= 0`
  else if (!AGGS.includes(spec.agg)) problem = `agg ${String(spec.agg)} is not one of ${AGGS.join(', ')}`
  else if (spec.also?.some((a) => a === ('p95' as WindowAgg) || !AGGS.includes(a)))
    problem = `also ${String(spec.also)} may hold ${AGGS.filter((a) => a !== 'p95').join(', ')}`
  else if (!whole(maxPoints)) problem = `maxPoints ${maxPoints} is not a positive whole number`
  if (problem) throw new RangeError(`window: ${problem}`)
}

const AGGS: readonly WindowAgg[] = ['avg', 'min', 'max', 'sum', 'count', 'rate', 'p95']

/** Per second, from the first and last point by ts; undefined over a zero span (or one point). */
function rate(firstTs: number, first: number, lastTs: number, last: number): number | undefined {
  const span = lastTs - firstTs
  return span > 0 ? ((last - first) * 1000) / span : undefined
}

/** The 0-based index of the nearest-rank 95th percentile among n sorted values. */
const p95Index = (n: number) => Math.ceil(0.95 * n) - 1

/** Index of the first element of sorted `a[lo, hi)` greater than x. */
function upperBound(a: readonly number[], x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const m = (lo + hi) >>> 1
    if (a[m] > x) hi = m
    else lo = m + 1
  }
  return lo
}

/** The operator the two stacks fold with (count, rate and p95 need none). */
type Op = 0 | 1 | 2 | 3
const NO_OP = 0
const SUM = 1
const MIN = 2
const MAX = 3

/** One two-stack aggregation (sum, min or max) over the points of a PointWindow. */
class Stack {
  readonly identity: number
  /** Front stack [head, mid): suffix[i] = op over values[i, mid). Back stack [mid, n): folded into `back`. */
  readonly suffix: number[] = []
  back: number

  constructor(readonly op: Op) {
    this.identity = op === MIN ? Infinity : op === MAX ? -Infinity : 0
    this.back = this.identity
  }

  combine(a: number, b: number): number {
    return this.op === SUM ? a + b : this.op === MIN ? Math.min(a, b) : Math.max(a, b)
  }
}

const opOf = (agg: WindowAgg): Op => (agg === 'sum' || agg === 'avg' ? SUM : agg === 'min' ? MIN : agg === 'max' ? MAX : NO_OP)

/** Sliding without every: the points of (W - S, W], sorted by ts, aggregated with two stacks per operator. */
class PointWindow implements Windows {
  private readonly size: number
  private readonly agg: WindowAgg
  private readonly also: readonly WindowAgg[]
  private readonly ts: number[] = []
  private readonly values: number[] = []
  private readonly stacks: Stack[]
  /** The stack of each aggregate that needs one. */
  private readonly stackOf = new Map<WindowAgg, Stack>()
  private readonly sorted: SortedBlocks | undefined
  /** A point was folded since the last take(). */
  private changed = false
  private head = 0
  private mid = 0
  private watermark = -Infinity

  constructor(
    spec: WindowSpec,
    private readonly maxPoints: number,
  ) {
    this.size = spec.size
    this.agg = spec.agg
    this.also = spec.also ?? []
    const byOp = new Map<Op, Stack>()
    for (const agg of [spec.agg, ...this.also]) {
      const op = opOf(agg)
      if (op === NO_OP) continue
      let stack = byOp.get(op)
      if (!stack) byOp.set(op, (stack = new Stack(op)))
      this.stackOf.set(agg, stack)
    }
    this.stacks = [...byOp.values()]
    this.sorted = spec.agg === 'p95' ? new SortedBlocks() : undefined
  }

  add(ts: number, value: number): WindowResult[] | 'late' {
    if (!this.fold(ts, value)) return 'late'
    this.changed = false
    const result = this.current()
    return result ? [result] : NONE
  }

  take(): WindowResult | undefined {
    if (!this.changed) return undefined
    this.changed = false
    return this.current()
  }

  fold(ts: number, value: number): boolean {
    if (ts <= this.watermark - this.size) return false
    const { ts: times, values, stacks } = this
    const n = times.length
    const at = n > this.head && ts < times[n - 1] ? upperBound(times, ts, this.head, n) : n
    if (at === n) {
      times.push(ts)
      values.push(value)
      for (const st of stacks) st.suffix.push(0)
    } else {
      times.splice(at, 0, ts)
      values.splice(at, 0, value)
      for (const st of stacks) st.suffix.splice(at, 0, 0)
    }
    if (stacks.length > 0) {
      if (at >= this.mid) for (const st of stacks) st.back = st.combine(st.back, value)
      else this.refreshFront(at)
    }
    this.sorted?.insert(value)
    if (ts > this.watermark) this.watermark = ts
    const floor = this.watermark - this.size
    while (times[this.head] <= floor || times.length - this.head > this.maxPoints) this.evict()
    this.changed = true
    return true
  }

  advance(): WindowResult[] {
    return NONE
  }

  nextDue(): undefined {
    return undefined
  }

  /** A point was inserted at `at` in the front stack: recompute the suffixes from it down to the head. */
  private refreshFront(at: number): void {
    this.mid++
    for (const st of this.stacks) {
      let acc = at + 1 < this.mid ? st.suffix[at + 1] : st.identity
      for (let i = at; i >= this.head; i--) st.suffix[i] = acc = st.combine(this.values[i], acc)
    }
  }

  private evict(): void {
    const { values, stacks } = this
    if (stacks.length > 0 && this.head === this.mid) {
      // The front stack is empty: move the back stack over, computing its suffixes.
      for (const st of stacks) {
        let acc = st.identity
        for (let i = values.length - 1; i >= this.head; i--) st.suffix[i] = acc = st.combine(values[i], acc)
        st.back = st.identity
      }
      this.mid = values.length
    }
    this.sorted?.remove(values[this.head])
    this.head++
    if (this.head >= 1024 && this.head * 2 >= values.length) {
      this.ts.splice(0, this.head)
      values.splice(0, this.head)
      for (const st of stacks) st.suffix.splice(0, this.head)
      this.mid = Math.max(0, this.mid - this.head)
      this.head = 0
    }
  }

  private valueOf(agg: WindowAgg, count: number): number | undefined {
    const { ts, values, head } = this
    const last = ts.length - 1
    switch (agg) {
      case 'count':
        return count
      case 'rate':
        return rate(ts[head], values[head], ts[last], values[last])
      case 'p95':
        return this.sorted!.at(p95Index(count))
    }
    const st = this.stackOf.get(agg)!
    const folded = head < this.mid ? st.combine(st.suffix[head], st.back) : st.back
    return agg === 'avg' ? folded / count : folded
  }

  private current(): WindowResult | undefined {
    const count = this.ts.length - this.head
    const value = this.valueOf(this.agg, count)
    if (value === undefined) return undefined
    const result: WindowResult = { value, start: this.watermark - this.size, end: this.watermark, count }
    if (this.also.length > 0) result.values = valuesOf(this.also, (agg) => this.valueOf(agg, count))
    return result
  }
}

function valuesOf(aggs: readonly WindowAgg[], valueOf: (agg: WindowAgg) => number | undefined): Partial<Record<WindowAgg, number>> {
  const out: Partial<Record<WindowAgg, number>> = {}
  for (const agg of aggs) {
    const v = valueOf(agg)
    if (v !== undefined) out[agg] = v
  }
  return out
}

/** What a pane (or a merge of panes) knows about its points. */
class Pane {
  end = 0
  count = 0
  sum = 0
  min = Infinity
  max = -Infinity
  firstTs = Infinity
  first = 0
  lastTs = -Infinity
  last = 0
  /** Only for p95, in arrival order. */
  readonly values: number[] = []

  reset(end: number): void {
    this.end = end
    this.count = this.sum = 0
    this.min = this.firstTs = Infinity
    this.max = this.lastTs = -Infinity
    this.values.length = 0
  }

  add(ts: number, value: number): void {
    this.count++
    this.sum += value
    this.min = Math.min(this.min, value)
    this.max = Math.max(this.max, value)
    if (ts < this.firstTs) {
      this.firstTs = ts
      this.first = value
    }
    if (ts >= this.lastTs) {
      this.lastTs = ts
      this.last = value
    }
  }

  /** Folds in `p`, a pane later than every pane already folded in. */
  merge(p: Pane): void {
    this.count += p.count
    this.sum += p.sum
    this.min = Math.min(this.min, p.min)
    this.max = Math.max(this.max, p.max)
    if (p.firstTs < this.firstTs) {
      this.firstTs = p.firstTs
      this.first = p.first
    }
    if (p.lastTs >= this.lastTs) {
      this.lastTs = p.lastTs
      this.last = p.last
    }
  }
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))

/**
 * Tumbling, and sliding with every: panes of gcd(S, E) ms, sorted by end; instants t = kE merge the panes whose end
 * is in (t - S, t]. Tumbling is the case E = S with panes [kS, (k+1)S) instead of ((k-1)g, kg].
 */
class PaneWindows implements Windows {
  private readonly size: number
  private readonly step: number
  private readonly grain: number
  private readonly tumbling: boolean
  private readonly lateness: number
  private readonly agg: WindowAgg
  private readonly also: readonly WindowAgg[]
  private readonly panes: Pane[] = []
  private readonly spare: Pane[] = []
  private readonly merged = new Pane()
  private scratch = new Float64Array(64)
  /** Panes plus p95 values held. */
  private kept = 0
  private progress = -Infinity
  /** The first instant that is not final; every earlier one was emitted (or had nothing to emit). */
  private nextT = -Infinity
  /** The newest result that became final during fold(), for take(). */
  private latest: WindowResult | undefined

  constructor(
    spec: WindowSpec,
    private readonly maxPoints: number,
  ) {
    this.tumbling = spec.type === 'tumbling'
    this.size = spec.size
    this.step = spec.every ?? spec.size
    this.grain = gcd(this.size, this.step)
    this.lateness = spec.latenessMs
    this.agg = spec.agg
    this.also = spec.also ?? []
  }

  add(ts: number, value: number): WindowResult[] | 'late' {
    const g = this.grain
    const end = this.tumbling ? (Math.floor(ts / g) + 1) * g : Math.ceil(ts / g) * g
    // The last instant holding the pane ((end - g), end]: the largest multiple of E <= end - g + S.
    if (Math.floor((end - g + this.size) / this.step) * this.step < this.nextT) return 'late'
    const pane = this.paneEnding(end)
    pane.add(ts, value)
    if (this.agg === 'p95') {
      pane.values.push(value)
      this.kept++
    }
    while (this.kept > this.maxPoints) this.trim()
    if (ts <= this.progress) return NONE
    this.progress = ts
    return this.close()
  }

  fold(ts: number, value: number): boolean {
    const out = this.add(ts, value)
    if (out === 'late') return false
    if (out.length > 0) this.latest = out[out.length - 1]
    return true
  }

  take(): WindowResult | undefined {
    const latest = this.latest
    this.latest = undefined
    return latest
  }

  advance(now: number): WindowResult[] {
    if (now <= this.progress) return NONE
    this.progress = now
    return this.close()
  }

  nextDue(): number | undefined {
    return this.panes.length === 0 ? undefined : this.firstInstant() + this.lateness
  }

  /** The first instant not yet final that has a pane in its range. */
  private firstInstant(): number {
    return Math.max(this.nextT, Math.ceil(this.panes[0].end / this.step) * this.step)
  }

  private paneEnding(end: number): Pane {
    const { panes } = this
    let i = panes.length - 1
    while (i >= 0 && panes[i].end > end) i--
    if (i >= 0 && panes[i].end === end) return panes[i]
    const pane = this.spare.pop() ?? new Pane()
    pane.reset(end)
    panes.splice(i + 1, 0, pane)
    this.kept++
    return pane
  }

  /** Emits every instant that progress made final, then drops the panes no open instant needs. */
  private close(): WindowResult[] {
    const lastFinal = Math.floor((this.progress - this.lateness) / this.step) * this.step
    let out = NONE
    while (this.panes.length > 0) {
      const t = this.firstInstant()
      if (t > lastFinal) break
      const result = this.evaluate(t)
      if (result) (out === NONE ? (out = []) : out).push(result)
      this.nextT = t + this.step
      this.drop(this.nextT - this.size)
    }
    if (lastFinal + this.step > this.nextT) {
      this.nextT = lastFinal + this.step
      this.drop(this.nextT - this.size)
    }
    return out
  }

  private evaluate(t: number): WindowResult | undefined {
    const { merged, panes } = this
    const start = t - this.size
    merged.reset(t)
    let n = 0
    for (let i = 0; i < panes.length && panes[i].end <= t; i++) {
      const pane = panes[i]
      if (pane.end <= start) continue
      merged.merge(pane)
      if (this.agg === 'p95') n = this.collect(pane.values, n)
    }
    if (merged.count === 0) return undefined
    const valueOf = (agg: WindowAgg): number | undefined => {
      switch (agg) {
        case 'avg':
          return merged.sum / merged.count
        case 'rate':
          return rate(merged.firstTs, merged.first, merged.lastTs, merged.last)
        case 'p95':
          return n === 0 ? undefined : this.scratch.subarray(0, n).sort()[p95Index(n)]
        default:
          return merged[agg]
      }
    }
    const value = valueOf(this.agg)
    if (value === undefined) return undefined
    const result: WindowResult = { value, start, end: t, count: merged.count }
    if (this.also.length > 0) result.values = valuesOf(this.also, valueOf)
    return result
  }

  /** Copies `values` into the scratch buffer at `n`; returns the new length. */
  private collect(values: readonly number[], n: number): number {
    if (n + values.length > this.scratch.length) {
      const grown = new Float64Array(Math.max(this.scratch.length * 2, n + values.length))
      grown.set(this.scratch.subarray(0, n))
      this.scratch = grown
    }
    for (let i = 0; i < values.length; i++) this.scratch[n++] = values[i]
    return n
  }

  /** Releases the panes ending at or before `end`. */
  private drop(end: number): void {
    let k = 0
    while (k < this.panes.length && this.panes[k].end <= end) this.release(this.panes[k++])
    if (k > 0) this.panes.splice(0, k)
  }

  private release(pane: Pane): void {
    this.kept -= 1 + pane.values.length
    pane.reset(0)
    this.spare.push(pane)
  }

  /** Over the cap: keep every other p95 value of the biggest pane, or (no values to thin) drop the oldest pane. */
  private trim(): void {
    let biggest: Pane | undefined
    for (const pane of this.panes) if (pane.values.length >= 2 && pane.values.length > (biggest?.values.length ?? 0)) biggest = pane
    if (!biggest) return this.release(this.panes.shift()!)
    const { values } = biggest
    let j = 0
    for (let i = 0; i < values.length; i += 2) values[j++] = values[i]
    this.kept -= values.length - j
    values.length = j
  }
}
