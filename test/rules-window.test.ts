/**
 * The event-time window aggregator of threshold rules (gateway/rules/engine/window.ts): tumbling and sliding
 * windows, every aggregate, lateness, processing-time progress, and the memory cap. Times are ms.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SortedBlocks } from '../gateway/rules/engine/sorted.ts'
import { SeriesWindow, type WindowAgg, type WindowResult, type WindowSpec } from '../gateway/rules/engine/window.ts'

type Point = readonly [ts: number, value: number]

const tumbling = (agg: WindowAgg, latenessMs = 0, size = 10): WindowSpec => ({ type: 'tumbling', size, agg, latenessMs })
const every = (agg: WindowAgg, latenessMs = 0, size = 10, step = 5): WindowSpec => ({ type: 'sliding', size, every: step, agg, latenessMs })
const perPoint = (agg: WindowAgg, latenessMs = 0, size = 10): WindowSpec => ({ type: 'sliding', size, agg, latenessMs })

/** Feeds points in order; returns every result and the timestamps of the points refused as late. */
function feed(w: SeriesWindow, points: readonly Point[]): { results: WindowResult[]; late: number[] } {
  const results: WindowResult[] = []
  const late: number[] = []
  for (const [ts, value] of points) {
    const out = w.add(ts, value)
    if (out === 'late') late.push(ts)
    else results.push(...out)
  }
  return { results, late }
}

const r = (value: number, start: number, end: number, count: number): WindowResult => ({ value, start, end, count })

/** In [0, 10): avg 5.5, min 1, max 10, sum 22, count 4, rate (7 - 4) / 7 ms, p95 (4th of 4) 10. */
const FOUR: Point[] = [
  [1, 4],
  [3, 10],
  [5, 1],
  [8, 7],
]
const FOUR_EXPECTED: Record<WindowAgg, number> = { avg: 5.5, min: 1, max: 10, sum: 22, count: 4, rate: 3000 / 7, p95: 10 }
const AGGS = Object.keys(FOUR_EXPECTED) as WindowAgg[]

describe('tumbling windows [kS, (k+1)S)', () => {
  it.each(AGGS)('%s: one result per window, once the watermark reaches end + lateness', (agg) => {
    const w = new SeriesWindow(tumbling(agg))
    expect(feed(w, FOUR).results).toEqual([])
    const [result, ...rest] = w.add(10, 0) as WindowResult[]
    expect(rest).toEqual([])
    expect(result).toEqual({ value: expect.closeTo(FOUR_EXPECTED[agg], 9), start: 0, end: 10, count: 4 })
  })

  it('puts a point at kS in the window that starts there', () => {
    const w = new SeriesWindow(tumbling('count'))
    expect(
      feed(w, [
        [0, 1],
        [9.999, 1],
        [10, 1],
        [20, 1],
      ]).results,
    ).toEqual([r(2, 0, 10, 2), r(1, 10, 20, 1)])
  })

  it('emits nothing for windows without points', () => {
    const w = new SeriesWindow(tumbling('sum'))
    expect(
      feed(w, [
        [5, 1],
        [45, 2],
        [50, 3],
      ]).results,
    ).toEqual([r(1, 0, 10, 1), r(2, 40, 50, 1)])
  })

  it('waits latenessMs after the end, folding out-of-order points into their own window', () => {
    const w = new SeriesWindow(tumbling('avg', 5))
    expect(
      feed(w, [
        [1, 1],
        [12, 2],
        [3, 3],
      ]).results,
    ).toEqual([])
    expect(w.add(15, 4)).toEqual([r(2, 0, 10, 2)])
  })

  it('keeps several windows open at once', () => {
    const w = new SeriesWindow(tumbling('count', 30))
    expect(
      feed(w, [
        [5, 1],
        [15, 1],
        [25, 1],
        [7, 1],
        [35, 1],
        [11, 1],
      ]).results,
    ).toEqual([])
    expect(w.advance(40)).toEqual([r(2, 0, 10, 1 + 1)])
    expect(w.advance(60)).toEqual([r(2, 10, 20, 2), r(1, 20, 30, 1)])
    expect(w.advance(1000)).toEqual([r(1, 30, 40, 1)])
  })

  it('refuses a point of a final window as late and folds it nowhere', () => {
    const w = new SeriesWindow(tumbling('avg', 5))
    const { results, late } = feed(w, [
      [1, 1],
      [12, 2],
      [3, 3],
      [16, 4],
      [9, 100],
      [25, 0],
    ])
    expect(late).toEqual([9])
    expect(results).toEqual([r(2, 0, 10, 2), r(3, 10, 20, 2)])
  })

  it('closes a window of a series that stopped sending when advance() reaches end + lateness, once', () => {
    const w = new SeriesWindow(tumbling('max', 5))
    expect(w.add(1, 7)).toEqual([])
    expect(w.advance(14)).toEqual([])
    expect(w.advance(15)).toEqual([r(7, 0, 10, 1)])
    expect(w.advance(100)).toEqual([])
    expect(w.advance(50)).toEqual([])
  })

  it('counts processing time as progress: after advance(now), a point of a window that now closed is late', () => {
    const w = new SeriesWindow(tumbling('count', 5))
    expect(w.advance(15)).toEqual([])
    expect(w.add(5, 1)).toBe('late')
    expect(w.add(14, 1)).toEqual([])
    expect(w.advance(25)).toEqual([r(1, 10, 20, 1)])
  })

  it('nextDue() is the end + lateness of the oldest open window that has points', () => {
    const w = new SeriesWindow(tumbling('sum', 5))
    expect(w.nextDue()).toBeUndefined()
    w.add(3, 1)
    expect(w.nextDue()).toBe(15)
    w.add(12, 1)
    expect(w.nextDue()).toBe(15)
    expect(w.advance(w.nextDue()! - 1)).toEqual([])
    expect(w.advance(w.nextDue()!)).toEqual([r(1, 0, 10, 1)])
    expect(w.nextDue()).toBe(25)
    expect(w.advance(25)).toEqual([r(1, 10, 20, 1)])
    expect(w.nextDue()).toBeUndefined()
  })
})

describe('sliding windows with every: instants t = kE over (t - S, t]', () => {
  it.each(AGGS)('%s: each instant whose range has points, once it is final', (agg) => {
    const w = new SeriesWindow(every(agg, 0, 10, 10))
    expect(feed(w, FOUR).results).toEqual([])
    expect(w.advance(10)).toEqual([{ value: expect.closeTo(FOUR_EXPECTED[agg], 9), start: 0, end: 10, count: 4 }])
  })

  it('includes the instant itself and excludes t - S', () => {
    const w = new SeriesWindow(every('sum', 0, 10, 5))
    const { results } = feed(w, [
      [0, 1],
      [5, 2],
      [10, 4],
      [15, 8],
      [100, 0],
    ])
    expect(results).toEqual([r(1, -10, 0, 1), r(3, -5, 5, 2), r(6, 0, 10, 2), r(12, 5, 15, 2), r(8, 10, 20, 1), r(0, 90, 100, 1)])
  })

  it('works when the size is not a multiple of every', () => {
    const w = new SeriesWindow(every('sum', 0, 5, 2))
    feed(w, [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ])
    // Instants 2, 4 were final as points arrived; 6 covers (1, 6], 8 covers (3, 8], 10 covers (5, 10] (empty).
    expect(w.advance(100)).toEqual([r(14, 1, 6, 4), r(9, 3, 8, 2)])
  })

  it('emits the instants as points arrive, and skips the empty ones across a gap', () => {
    const w = new SeriesWindow(every('count', 0, 10, 5))
    expect(w.add(3, 1)).toEqual([])
    expect(w.add(1003, 1)).toEqual([r(1, -5, 5, 1), r(1, 0, 10, 1)])
    expect(w.advance(2000)).toEqual([r(1, 995, 1005, 1), r(1, 1000, 1010, 1)])
  })

  it('folds a point into the instants still open only, and refuses it once all of its instants are final', () => {
    const w = new SeriesWindow(every('count', 0, 10, 5))
    expect(
      feed(w, [
        [3, 1],
        [7, 1],
      ]).results,
    ).toEqual([r(1, -5, 5, 1)])
    expect(w.add(10, 1)).toEqual([r(3, 0, 10, 3)])
    expect(w.add(6, 1)).toEqual([]) // in instants 10 (emitted, stays 3) and 15 (open)
    expect(w.add(4, 1)).toBe('late') // in instants 5 and 10, both emitted
    expect(w.advance(15)).toEqual([r(3, 5, 15, 3)])
  })

  it('waits latenessMs after each instant', () => {
    const w = new SeriesWindow(every('sum', 2, 10, 5))
    expect(w.add(3, 1)).toEqual([])
    expect(w.nextDue()).toBe(7)
    expect(w.advance(6)).toEqual([])
    expect(w.add(6, 2)).toEqual([])
    expect(w.advance(7)).toEqual([r(1, -5, 5, 1)])
    expect(w.nextDue()).toBe(12)
    expect(w.add(4, 4)).toEqual([]) // instant 10 is still open
    expect(w.advance(12)).toEqual([r(7, 0, 10, 3)])
    expect(w.nextDue()).toBe(17)
    expect(w.advance(17)).toEqual([r(2, 5, 15, 1)])
    expect(w.nextDue()).toBeUndefined()
    expect(w.add(9, 1)).toBe('late')
  })
})

describe('sliding windows without every: one result per point over (W - S, W]', () => {
  it('re-evaluates on each point and drops points at or before W - S', () => {
    const w = new SeriesWindow(perPoint('sum'))
    const { results } = feed(w, [
      [0, 1],
      [5, 2],
      [9, 3],
      [10, 4],
      [15, 5],
      [20, 6],
    ])
    expect(results).toEqual([r(1, -10, 0, 1), r(3, -5, 5, 2), r(6, -1, 9, 3), r(9, 0, 10, 3), r(12, 5, 15, 3), r(11, 10, 20, 2)])
  })

  it.each(AGGS)('%s: over the points of the window', (agg) => {
    const w = new SeriesWindow(perPoint(agg))
    const { results } = feed(w, FOUR)
    expect(results.at(-1)).toEqual({ value: expect.closeTo(FOUR_EXPECTED[agg], 9), start: -2, end: 8, count: 4 })
  })

  it('folds an out-of-order point inside the window and re-evaluates at the same end', () => {
    const w = new SeriesWindow(perPoint('sum'))
    expect(w.add(10, 1)).toEqual([r(1, 0, 10, 1)])
    expect(w.add(5, 2)).toEqual([r(3, 0, 10, 2)])
    expect(w.add(1, 8)).toEqual([r(11, 0, 10, 3)])
    expect(w.add(20, 1)).toEqual([r(1, 10, 20, 1)])
  })

  it('refuses a point at or before W - S as late whatever the lateness: it can change no result', () => {
    const w = new SeriesWindow(perPoint('sum', 60_000))
    expect(
      feed(w, [
        [100, 1],
        [91, 2],
        [90, 100],
      ]),
    ).toEqual({ results: [r(1, 90, 100, 1), r(3, 90, 100, 2)], late: [90] })
    expect(w.add(95, 4)).toEqual([r(7, 90, 100, 3)])
  })

  it('min and max stay exact as points leave, in and out of order', () => {
    const points: Point[] = [
      [1, 5],
      [2, 9],
      [3, 1],
      [12, 2],
      [8, 0],
      [13, 3],
      [19, 4],
    ]
    expect(feed(new SeriesWindow(perPoint('min')), points).results.map((x) => x.value)).toEqual([5, 5, 1, 1, 0, 0, 2])
    expect(feed(new SeriesWindow(perPoint('max')), points).results.map((x) => x.value)).toEqual([5, 9, 9, 2, 2, 3, 4])
  })

  it.each(AGGS)('%s stays equal to a recomputation over a long stream (the buffer is compacted as points leave)', (agg) => {
    const w = new SeriesWindow(perPoint(agg, 0, 300))
    let kept: Point[] = []
    for (let i = 0; i < 6000; i++) {
      const ts = i % 7 === 3 ? i - 5 : i // every seventh point is 5 ms late
      const value = ((i * 7919) % 1000) - 500
      const [result] = w.add(ts, value) as WindowResult[]
      kept.push([ts, value])
      const watermark = i % 7 === 3 ? i - 1 : i
      kept = kept.filter(([t]) => t > watermark - 300)
      expectResult(result, agg, kept, watermark - 300, watermark)
    }
  })

  it('has nothing for advance() or nextDue()', () => {
    const w = new SeriesWindow(perPoint('avg', 5))
    w.add(1, 1)
    expect(w.advance(1_000_000)).toEqual([])
    expect(w.nextDue()).toBeUndefined()
  })

  it('keeps at most maxPoints points: the window then covers the newest ones', () => {
    const w = new SeriesWindow(perPoint('sum', 0, 1000), { maxPoints: 3 })
    const { results } = feed(w, [
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ])
    expect(results.at(-1)).toEqual(r(12, -995, 5, 3))
  })
})

describe('aggregates', () => {
  it.each([
    [1, 1],
    [20, 19],
    [100, 95],
    [101, 96],
  ])('p95 of %i values 1..n is the nearest-rank value %i', (n, expected) => {
    const values = Array.from({ length: n }, (_, i) => ((i * 37) % n) + 1) // 1..n, shuffled
    for (const spec of [tumbling('p95', 0, 1000), every('p95', 0, 1000, 500), perPoint('p95', 0, 1000)]) {
      const w = new SeriesWindow(spec)
      const { results } = feed(
        w,
        values.map((v, i): Point => [i, v]),
      )
      const last = spec.every === undefined && spec.type === 'sliding' ? results.at(-1) : w.advance(10_000)[0]
      expect(last?.value, `${spec.type} ${spec.every ?? ''}`).toBe(expected)
    }
  })

  it('rate is the increase per second between the first and last point by ts', () => {
    const w = new SeriesWindow(tumbling('rate', 10_000, 60_000))
    feed(w, [
      [30_000, 130],
      [0, 100],
      [10_000, 90],
    ]) // the middle value does not matter
    expect(w.advance(100_000)).toEqual([r(1, 0, 60_000, 3)])
  })

  it('rate of a counter that went down is negative (resets are not corrected)', () => {
    const w = new SeriesWindow(perPoint('rate', 0, 60_000))
    expect(
      feed(w, [
        [0, 100],
        [2_000, 90],
      ]).results.at(-1),
    ).toEqual(r(-5, -58_000, 2_000, 2))
  })

  it('rate has no result with one point or a zero span', () => {
    const w = new SeriesWindow(tumbling('rate'))
    expect(
      feed(w, [
        [1, 1],
        [11, 5],
        [11, 6],
        [25, 0],
      ]).results,
    ).toEqual([])
    const p = new SeriesWindow(perPoint('rate'))
    expect(
      feed(p, [
        [1, 1],
        [1, 2],
      ]).results,
    ).toEqual([])
    expect(p.add(3, 4)).toEqual([r(1500, -7, 3, 3)]) // first at ts 1 is the first to arrive
  })

  it('keeps every other p95 value of a window past maxPoints; count and the other aggregates stay exact', () => {
    const points = Array.from({ length: 100 }, (_, i): Point => [i, i])
    const p95 = new SeriesWindow(tumbling('p95', 0, 1000), { maxPoints: 10 })
    feed(p95, points)
    const [result] = p95.advance(1000)
    expect(result.count).toBe(100)
    expect(result.value).toBeGreaterThanOrEqual(80)
    const sum = new SeriesWindow(tumbling('sum', 0, 1000), { maxPoints: 10 })
    feed(sum, points)
    expect(sum.advance(1000)).toEqual([r(4950, 0, 1000, 100)])
  })

  it('drops the oldest pane when a window holds more panes than maxPoints', () => {
    const w = new SeriesWindow(every('count', 0, 1000, 999), { maxPoints: 5 }) // panes of gcd = 1 ms
    feed(
      w,
      Array.from({ length: 10 }, (_, i): Point => [i + 1, 1]),
    )
    expect(w.advance(999)).toEqual([r(5, -1, 999, 5)])
  })
})

describe('spec checks', () => {
  it.each([
    [{ type: 'tumbling', size: 0, agg: 'avg', latenessMs: 0 }, 'window: size 0 is not a positive whole number of ms'],
    [{ type: 'tumbling', size: 1.5, agg: 'avg', latenessMs: 0 }, 'window: size 1.5 is not a positive whole number of ms'],
    [{ type: 'tumbling', size: 10, every: 5, agg: 'avg', latenessMs: 0 }, 'needs a sliding window'],
    [{ type: 'sliding', size: 10, every: 20, agg: 'avg', latenessMs: 0 }, 'no longer than size 10'],
    [{ type: 'sliding', size: 10, agg: 'avg', latenessMs: -1 }, 'window: latenessMs -1 is not a duration >= 0'],
    [{ type: 'sliding', size: 10, agg: 'median', latenessMs: 0 }, 'window: agg median is not one of avg, min, max, sum, count, rate, p95'],
  ])('refuses %j', (spec, message) => {
    expect(() => new SeriesWindow(spec as WindowSpec)).toThrow(new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
  })
})

/** The aggregate of points (arrival order), computed the obvious way; undefined where there is no result. */
function bruteForce(agg: WindowAgg, points: readonly Point[]): number | undefined {
  const byTs = [...points].sort((a, b) => a[0] - b[0]) // stable: ties stay in arrival order
  const values = points.map((p) => p[1])
  const sum = values.reduce((a, b) => a + b, 0)
  const first = byTs[0]
  const last = byTs[byTs.length - 1]
  switch (agg) {
    case 'avg':
      return sum / values.length
    case 'sum':
      return sum
    case 'count':
      return values.length
    case 'min':
      return Math.min(...values)
    case 'max':
      return Math.max(...values)
    case 'rate':
      return last[0] > first[0] ? (last[1] - first[1]) / ((last[0] - first[0]) / 1000) : undefined
    case 'p95':
      return [...values].sort((a, b) => a - b)[Math.ceil(0.95 * values.length) - 1]
  }
}

function expectResult(actual: WindowResult | undefined, agg: WindowAgg, points: readonly Point[], start: number, end: number): void {
  const value = bruteForce(agg, points)
  if (value === undefined) return expect(actual).toBeUndefined()
  expect(actual).toEqual({ value: expect.closeTo(value, 6), start, end, count: points.length })
}

const aggArb = fc.constantFrom(...AGGS)
/** Points with timestamps increasing by 0-12 ms; `jitter` (0-4) moves each a few places when shuffled. */
const pointsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 4 })), {
  maxLength: 150,
})
/** Any window: tumbling or sliding-every with a lateness of 0-20 ms, or sliding per point. */
const anySpecArb = fc.oneof(
  fc.tuple(aggArb, fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 40 })).map(([agg, l, s]) => tumbling(agg, l, s)),
  fc
    .tuple(aggArb, fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }))
    .map(([agg, l, a, b]) => every(agg, l, Math.max(a, b), Math.min(a, b))),
  fc.tuple(aggArb, fc.integer({ min: 1, max: 40 })).map(([agg, s]) => perPoint(agg, 0, s)),
)
function arrange(steps: readonly (readonly [number, number, number])[], shuffled: boolean): Point[] {
  let ts = 1000
  const points = steps.map(([dt, value, jitter], i) => ({ point: [(ts += dt), value] as Point, key: shuffled ? i + jitter : i }))
  return points.sort((a, b) => a.key - b.key).map((p) => p.point)
}

describe('properties', () => {
  it('sliding per point equals a brute-force recomputation over the kept points, in order and mildly shuffled', () => {
    fc.assert(
      fc.property(aggArb, fc.integer({ min: 1, max: 60 }), pointsArb, fc.boolean(), (agg, size, steps, shuffled) => {
        const w = new SeriesWindow(perPoint(agg, 0, size))
        const kept: Point[] = []
        let watermark = -Infinity
        for (const point of arrange(steps, shuffled)) {
          const out = w.add(point[0], point[1])
          if (point[0] <= watermark - size) {
            expect(out).toBe('late')
            continue
          }
          kept.push(point)
          watermark = Math.max(watermark, point[0])
          const window = kept.filter(([ts]) => ts > watermark - size)
          expect(out).not.toBe('late')
          expect((out as WindowResult[]).length).toBeLessThanOrEqual(1)
          expectResult((out as WindowResult[])[0], agg, window, watermark - size, watermark)
        }
      }),
    )
  })

  it('tumbling and sliding-every windows equal brute-force grouping when nothing is late', () => {
    fc.assert(
      fc.property(aggArb, fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), pointsArb, (agg, size, stepOrSize, steps) => {
        const points = arrange(steps, true)
        const span = points.length === 0 ? 0 : Math.max(...points.map((p) => p[0])) - Math.min(...points.map((p) => p[0]))
        for (const spec of [tumbling(agg, span + 1, size), every(agg, span + 1, Math.max(size, stepOrSize), Math.min(size, stepOrSize))]) {
          const w = new SeriesWindow(spec)
          const { results, late } = feed(w, points)
          expect(late).toEqual([])
          expect(results).toEqual([])
          results.push(...w.advance(1e9))
          const step = spec.every ?? spec.size
          const expected: WindowResult[] = []
          for (let t = 0; t <= 1000 + 150 * 12 + spec.size + step; t += step) {
            const inside = points.filter(([ts]) => (spec.type === 'tumbling' ? ts >= t - spec.size && ts < t : ts > t - spec.size && ts <= t))
            const value = inside.length === 0 ? undefined : bruteForce(agg, inside)
            if (value !== undefined) expected.push({ value: expect.closeTo(value, 6) as number, start: t - spec.size, end: t, count: inside.length })
          }
          expect(results).toEqual(expected)
        }
      }),
    )
  })

  it('tumbling and sliding-every windows equal a brute-force model, with lateness, advance() and nextDue()', () => {
    const specArb = fc.oneof(
      fc.tuple(aggArb, fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 40 })).map(([agg, l, s]) => tumbling(agg, l, s)),
      fc
        .tuple(aggArb, fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }))
        .map(([agg, l, a, b]) => every(agg, l, Math.max(a, b), Math.min(a, b))),
    )
    const nowsArb = fc.array(fc.option(fc.integer({ min: -20, max: 60 }), { nil: undefined, freq: 3 }), { minLength: 150, maxLength: 150 })
    fc.assert(
      fc.property(specArb, pointsArb, nowsArb, (spec, steps, nows) => {
        const model = new WindowModel(spec)
        const w = new SeriesWindow(spec)
        arrange(steps, true).forEach(([ts, value], i) => {
          expect(w.add(ts, value)).toEqual(model.add(ts, value))
          const delta = nows[i]
          if (delta !== undefined) expect(w.advance(ts + delta)).toEqual(model.advance(ts + delta))
          expect(w.nextDue()).toBe(model.nextDue())
        })
        expect(w.advance(1e9)).toEqual(model.advance(1e9))
        expect(w.nextDue()).toBeUndefined()
      }),
    )
  })

  it('fold() then take() once per batch gives what add() would have: the window now (per point), or the last window closed in the batch', () => {
    fc.assert(
      fc.property(anySpecArb, pointsArb, fc.integer({ min: 1, max: 8 }), (spec, steps, batchSize) => {
        const points = arrange(steps, true)
        const added = new SeriesWindow(spec)
        const folded = new SeriesWindow(spec)
        for (let i = 0; i < points.length; i += batchSize) {
          let last: WindowResult | undefined
          for (const [ts, value] of points.slice(i, i + batchSize)) {
            const out = added.add(ts, value)
            expect(folded.fold(ts, value)).toBe(out !== 'late')
            if (out === 'late') continue
            // A per-point window's value is its state after the last point folded (none: no value now);
            // a closed window stays emitted.
            if (spec.every === undefined && spec.type === 'sliding') last = out[0]
            else if (out.length > 0) last = out[out.length - 1]
          }
          expect(folded.take()).toEqual(last)
          expect(folded.take()).toBeUndefined()
        }
      }),
    )
  })

  it('one window with `also` gives each aggregate exactly as a window of that aggregate alone', () => {
    const ALSO = ['avg', 'sum', 'min', 'max', 'rate'] as const
    fc.assert(
      fc.property(anySpecArb, pointsArb, (spec, steps) => {
        const points = arrange(steps, true)
        const shared = new SeriesWindow({ ...spec, agg: 'count', also: ALSO })
        const alone = ALSO.map((agg) => new SeriesWindow({ ...spec, agg }))
        const check = (got: WindowResult[], each: WindowResult[][]): void => {
          ALSO.forEach((agg, k) => {
            const byEnd = new Map(each[k]!.map((r) => [r.end, r.value]))
            for (const r of got) expect(r.values?.[agg], `${agg} at ${r.end}`).toBe(byEnd.get(r.end))
            for (const r of each[k]!) expect(got.some((g) => g.end === r.end)).toBe(true)
          })
        }
        for (const [ts, value] of points) {
          const got = shared.add(ts, value)
          const each = alone.map((w) => w.add(ts, value))
          for (const e of each) expect(e === 'late').toBe(got === 'late')
          if (got !== 'late') check(got, each as WindowResult[][])
        }
        check(
          shared.advance(1e9),
          alone.map((w) => w.advance(1e9)),
        )
      }),
    )
  })

  it('late points change nothing: the same input without them gives the same results', () => {
    fc.assert(
      fc.property(anySpecArb, pointsArb, (spec, steps) => {
        const points = arrange(steps, true)
        const withLate = new SeriesWindow(spec)
        const results: WindowResult[] = []
        const kept = points.filter(([ts, value]) => {
          const out = withLate.add(ts, value)
          if (out !== 'late') results.push(...out)
          return out !== 'late'
        })
        const without = new SeriesWindow(spec)
        expect(feed(without, kept)).toEqual({ results, late: [] })
        expect(without.advance(1e9)).toEqual(withLate.advance(1e9))
      }),
    )
  })
})

/**
 * The semantics of tumbling and sliding-every windows, spelled out: every point is kept, an instant t (a window's
 * end) is emitted once progress >= t + L, from the points then kept, and a point is late when all its instants are.
 */
class WindowModel {
  private readonly step: number
  private readonly points: Point[] = []
  /** Instants that hold a kept point and were not emitted yet. */
  private readonly pending = new Set<number>()
  private progress = -Infinity

  constructor(private readonly spec: WindowSpec) {
    this.step = spec.every ?? spec.size
  }

  private inside(ts: number, t: number): boolean {
    return this.spec.type === 'tumbling' ? ts >= t - this.spec.size && ts < t : ts > t - this.spec.size && ts <= t
  }

  private instantsOf(ts: number): number[] {
    const out: number[] = []
    for (let t = Math.ceil(ts / this.step) * this.step; t <= ts + this.spec.size; t += this.step) if (this.inside(ts, t)) out.push(t)
    return out
  }

  add(ts: number, value: number): WindowResult[] | 'late' {
    const instants = this.instantsOf(ts)
    if (instants.every((t) => t + this.spec.latenessMs <= this.progress)) return 'late'
    this.points.push([ts, value])
    for (const t of instants) if (t + this.spec.latenessMs > this.progress) this.pending.add(t)
    return this.advance(ts)
  }

  advance(now: number): WindowResult[] {
    this.progress = Math.max(this.progress, now)
    const out: WindowResult[] = []
    for (const t of [...this.pending].sort((a, b) => a - b)) {
      if (t + this.spec.latenessMs > this.progress) break
      this.pending.delete(t)
      const inside = this.points.filter(([ts]) => this.inside(ts, t))
      const value = bruteForce(this.spec.agg, inside)
      if (value !== undefined) out.push({ value: expect.closeTo(value, 6) as number, start: t - this.spec.size, end: t, count: inside.length })
    }
    return out
  }

  nextDue(): number | undefined {
    return this.pending.size === 0 ? undefined : Math.min(...this.pending) + this.spec.latenessMs
  }
}

describe('SortedBlocks (the p95 values of a sliding window)', () => {
  it('answers every rank like a sorted array, through inserts and removals that split and empty blocks', () => {
    // Few distinct values (many duplicates) and enough operations to pass 2 x 512 values in one block.
    const opArb = fc.tuple(fc.boolean(), fc.integer({ min: -50, max: 50 }))
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1500, maxLength: 4000 }), fc.integer({ min: 0, max: 100 }), (ops, removeShare) => {
        const blocks = new SortedBlocks()
        const model: number[] = []
        ops.forEach(([remove, x], i) => {
          if (remove && (i * 37) % 100 < removeShare) {
            const at = model.indexOf(x)
            expect(blocks.remove(x)).toBe(at >= 0)
            if (at >= 0) model.splice(at, 1)
          } else {
            blocks.insert(x)
            model.push(x)
            model.sort((a, b) => a - b)
          }
        })
        expect(blocks.size).toBe(model.length)
        for (let i = -1; i <= model.length; i++) expect(blocks.at(i)).toBe(model[i])
      }),
      { numRuns: 25 },
    )
  })
})
