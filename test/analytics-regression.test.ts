/**
 * Dispatch lead-time regression (gateway/analytics/regression.ts): recovering known coefficients
 * from noiseless synthetic shipments (linear and harmonic hour), aliased columns, too little data,
 * dropped observations, and the at-risk check against a deadline.
 */
import { describe, expect, it } from 'vitest'
import {
  atRisk,
  fitLeadTime,
  hourOfDay,
  observationOf,
  predictLeadTime,
  type LeadTimeFit,
  type LeadTimeModel,
  type LeadTimeObservation,
} from '../gateway/analytics/regression.ts'

const MIN = 60_000
const HOUR = 3_600_000

/** Shipments of 1..20 lines released at every hour 0..23 (and on the half hour), lead time from `f`. */
function grid(f: (volume: number, hour: number) => number): LeadTimeObservation[] {
  const out: LeadTimeObservation[] = []
  for (let volume = 1; volume <= 20; volume += 3) for (let hour = 0; hour < 24; hour += 1.5) out.push({ volume, hour, leadTimeMs: f(volume, hour) })
  return out
}

const ok = (m: LeadTimeModel): LeadTimeFit => {
  if (m.status !== 'ok') throw new Error(`expected a fit, got ${m.reason}`)
  return m
}

describe('fitLeadTime', () => {
  it('recovers known coefficients with a linear hour term', () => {
    const m = ok(
      fitLeadTime(
        grid((v, h) => 10 * MIN + 30_000 * v + 2 * MIN * h),
        { encoding: 'linear' },
      ),
    )
    expect(m.coefficients.intercept).toBeCloseTo(10 * MIN, 3)
    expect(m.coefficients.volume).toBeCloseTo(30_000, 6)
    expect(m.coefficients.hour).toBeCloseTo(2 * MIN, 6)
    expect(m.r2).toBeCloseTo(1, 12)
    expect(m.residualSd).toBeLessThan(1e-3)
    expect(m.hourEffect).toBeNull()
    expect(m.aliased).toEqual([])
    expect(m.n).toBe(7 * 16)
  })

  it('recovers known coefficients with a daily harmonic', () => {
    const truth = (v: number, h: number): number =>
      30 * MIN + 20_000 * v + 900_000 * Math.sin((2 * Math.PI * h) / 24) - 600_000 * Math.cos((2 * Math.PI * h) / 24)
    const m = ok(fitLeadTime(grid(truth)))
    expect(m.encoding).toBe('harmonic')
    expect(m.coefficients.intercept).toBeCloseTo(30 * MIN, 3)
    expect(m.coefficients.volume).toBeCloseTo(20_000, 6)
    expect(m.coefficients.hourSin).toBeCloseTo(900_000, 3)
    expect(m.coefficients.hourCos).toBeCloseTo(-600_000, 3)
    expect(m.r2).toBeCloseTo(1, 12)
    // Amplitude hypot(900000, 600000); peak at atan2(0.9, −0.6) = 2.1588 rad = 8.246 h.
    expect(m.hourEffect?.amplitudeMs).toBeCloseTo(Math.hypot(900_000, 600_000), 3)
    expect(m.hourEffect?.peakHour).toBeCloseTo(8.246, 3)
    expect(predictLeadTime(m, 7, 13.25)).toBeCloseTo(truth(7, 13.25), 3)
  })

  it('wraps around midnight with the harmonic: 23:30 and 00:30 predict alike', () => {
    const m = ok(fitLeadTime(grid((v, h) => 30 * MIN + 20_000 * v + 600_000 * Math.cos((2 * Math.PI * h) / 24))))
    expect(predictLeadTime(m, 5, 23.5)).toBeCloseTo(predictLeadTime(m, 5, 0.5), 3)
  })

  it('reports r2 below 1 and a positive residual sd when there is noise', () => {
    const noisy = grid((v, h) => 10 * MIN + 30_000 * v + ((v * 7 + h * 2) % 5) * MIN)
    const m = ok(fitLeadTime(noisy, { encoding: 'linear' }))
    expect(m.r2).toBeGreaterThan(0.5)
    expect(m.r2).toBeLessThan(1)
    expect(m.residualSd).toBeGreaterThan(0.5 * MIN)
    expect(m.residualSd).toBeLessThan(3 * MIN)
  })

  it('gives r2 null when every lead time is the same', () => {
    const m = ok(fitLeadTime(grid(() => HOUR)))
    expect(m.r2).toBeNull()
    expect(m.coefficients.intercept).toBeCloseTo(HOUR, 6)
    expect(m.residualSd).toBeCloseTo(0, 6)
  })

  it('aliases the hour terms when every shipment is released at the same hour', () => {
    const obs = [1, 2, 3, 4, 5, 6].map((v) => ({ volume: v, hour: 9, leadTimeMs: HOUR + v * MIN }))
    const m = ok(fitLeadTime(obs))
    expect(m.aliased).toEqual(['hourSin', 'hourCos'])
    expect(m.coefficients.volume).toBeCloseTo(MIN, 6)
    expect(m.coefficients.hourSin).toBe(0)
    expect(predictLeadTime(m, 10, 9)).toBeCloseTo(HOUR + 10 * MIN, 3)
  })

  it('aliases one hour term when only two hours occur, and still fits them', () => {
    const obs = [1, 2, 3, 4].flatMap((v) => [
      { volume: v, hour: 6, leadTimeMs: HOUR + v * MIN },
      { volume: v, hour: 18, leadTimeMs: 2 * HOUR + v * MIN },
    ])
    const m = ok(fitLeadTime(obs))
    expect(m.aliased).toHaveLength(1)
    expect(predictLeadTime(m, 2, 6)).toBeCloseTo(HOUR + 2 * MIN, 3)
    expect(predictLeadTime(m, 2, 18)).toBeCloseTo(2 * HOUR + 2 * MIN, 3)
  })

  it('aliases volume when every shipment has the same volume', () => {
    const obs = [0, 3, 6, 9, 12, 15].map((h) => ({ volume: 10, hour: h, leadTimeMs: HOUR + h * MIN }))
    const m = ok(fitLeadTime(obs, { encoding: 'linear' }))
    expect(m.aliased).toEqual(['volume'])
    expect(m.coefficients.hour).toBeCloseTo(MIN, 6)
  })

  it('says insufficient data below 5 observations instead of throwing', () => {
    const four = [1, 2, 3, 4].map((v) => ({ volume: v, hour: v, leadTimeMs: HOUR }))
    expect(fitLeadTime(four)).toMatchObject({ status: 'insufficient_data', n: 4, dropped: 0, minimum: 5 })
    expect(fitLeadTime([])).toMatchObject({ status: 'insufficient_data', n: 0 })
    expect(fitLeadTime([...four, { volume: 5, hour: 5, leadTimeMs: HOUR }]).status).toBe('ok')
    expect(
      fitLeadTime(
        grid(() => HOUR),
        { minObservations: 1000 },
      ),
    ).toMatchObject({ status: 'insufficient_data', minimum: 1000 })
  })

  it('drops and counts unusable observations', () => {
    const good = [1, 2, 3, 4, 5].map((v) => ({ volume: v, hour: v, leadTimeMs: HOUR + v * MIN }))
    const bad = [
      { volume: Number.NaN, hour: 1, leadTimeMs: HOUR },
      { volume: 1, hour: 24, leadTimeMs: HOUR },
      { volume: 1, hour: 1, leadTimeMs: -5 },
      { volume: -1, hour: 1, leadTimeMs: HOUR },
    ]
    const m = fitLeadTime([...good, ...bad], { encoding: 'linear' })
    expect(m).toMatchObject({ status: 'ok', n: 5, dropped: 4 })
    expect(fitLeadTime([...good.slice(0, 4), ...bad])).toMatchObject({ status: 'insufficient_data', n: 4, dropped: 4 })
    expect(JSON.stringify(m)).not.toMatch(/NaN|Infinity/)
  })
})

describe('predictLeadTime', () => {
  it('never predicts a negative lead time', () => {
    const m: LeadTimeFit = fakeModel({ intercept: -HOUR, volume: MIN, hour: 0 }, 0)
    expect(predictLeadTime(m, 10, 3)).toBe(0)
  })
})

function fakeModel(coefficients: LeadTimeFit['coefficients'], residualSd: number): LeadTimeFit {
  return { status: 'ok', n: 100, dropped: 0, encoding: 'linear', coefficients, hourEffect: null, aliased: [], r2: 0.8, residualSd }
}

describe('atRisk', () => {
  // Lead time = 1 h + 1 min per line; residual sd 10 min. 30 lines → 1.5 h; + 1.645 · 10 min = 16.45 min.
  const model = fakeModel({ intercept: HOUR, volume: MIN, hour: 0 }, 10 * MIN)
  const releasedAt = Date.UTC(2025, 0, 31, 8)
  const shipment = { releasedAt, volume: 30, hour: 8 }

  it('flags a shipment whose predicted departure plus k·sd is past the deadline', () => {
    const r = atRisk(model, shipment, releasedAt + 1.7 * HOUR)
    expect(r.atRisk).toBe(true)
    expect(r.predictedDepartureAt).toBe(releasedAt + 1.5 * HOUR)
    expect(r.upperDepartureAt).toBeCloseTo(releasedAt + 1.5 * HOUR + 16.45 * MIN, 0)
    expect(r.slackMs).toBeCloseTo(0.2 * HOUR - 16.45 * MIN, 0)
    // P(late) = P(Z > 12 min / 10 min) = 0.1151.
    expect(r.probabilityLate).toBeCloseTo(0.1151, 3)
  })

  it('does not flag a shipment with room to spare', () => {
    const r = atRisk(model, shipment, releasedAt + 2 * HOUR)
    expect(r.atRisk).toBe(false)
    expect(r.slackMs).toBeGreaterThan(0)
  })

  it('takes k: k = 0 compares the point prediction alone', () => {
    expect(atRisk(model, shipment, releasedAt + 1.7 * HOUR, 0).atRisk).toBe(false)
    expect(atRisk(model, shipment, releasedAt + 1.5 * HOUR, 0).probabilityLate).toBeCloseTo(0.5, 6)
  })

  it('says nothing, with the reason, when the model has too little data', () => {
    const r = atRisk(fitLeadTime([]), shipment, releasedAt + HOUR)
    expect(r.atRisk).toBeNull()
    expect(r.reason).toMatch(/0 usable shipments/)
  })

  it('says nothing for a shipment with a bad field', () => {
    expect(atRisk(model, { ...shipment, hour: Number.NaN }, releasedAt + HOUR).atRisk).toBeNull()
  })
})

describe('hour of day and observations', () => {
  it('reads the local hour from epoch ms', () => {
    const t = Date.UTC(2025, 0, 31, 13, 30)
    expect(hourOfDay(t)).toBe(13.5)
    expect(hourOfDay(t, 60)).toBe(14.5)
    expect(hourOfDay(t, -14 * 60)).toBe(23.5)
    expect(hourOfDay(Date.UTC(1969, 11, 31, 22))).toBe(22)
  })

  it('builds an observation from step times, or none before departure', () => {
    const released = Date.UTC(2025, 0, 31, 9)
    expect(observationOf({ released, departed: released + 2 * HOUR, volume: 12 })).toEqual({ volume: 12, hour: 9, leadTimeMs: 2 * HOUR })
    expect(observationOf({ released, volume: 12 })).toBeUndefined()
  })
})
