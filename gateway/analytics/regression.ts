/**
 * Dispatch lead time (shipment `released` → `departed`, in ms) against order volume and the hour of
 * day of the release, by ordinary least squares; predictions and an at-risk check against a
 * deadline. Pure and synchronous; results are plain JSON.
 *
 * Hour of day is encoded by default as a daily harmonic, a·sin(2πh/24) + b·cos(2πh/24): it is
 * continuous across midnight (23:30 and 00:30 are neighbours) and bends once a day, which fits
 * "slow late in the shift, fast after the morning start" better than a straight line in h, which
 * jumps at midnight and can only rise or fall all day. `encoding: 'linear'` gives the straight line.
 *
 * Why no package: simple-statistics regresses on one variable only, and this needs at most four
 * columns. We solve by modified Gram–Schmidt QR on centred columns (the intercept comes back from
 * the means): the same answer as the normal equations XᵀXβ = Xᵀy, without squaring the condition
 * number, and a column that is constant or a combination of earlier ones (every shipment at the
 * same hour, the same volume) shows up as a near-zero norm: it is reported in `aliased` with
 * coefficient 0, as R's lm reports NA, instead of blowing up.
 */
import { errorFunction } from 'simple-statistics'

const HOUR_MS = 3_600_000

/** One shipment that departed: volume (lines or units, as long as one is used throughout), release hour, lead time. */
export interface LeadTimeObservation {
  volume: number
  /** Hour of day of the release in [0, 24), fractional allowed, in the site's local time (see `hourOfDay`). */
  hour: number
  /** departed − released, ms. */
  leadTimeMs: number
}

export type HourEncoding = 'harmonic' | 'linear'

export interface LeadTimeFit {
  status: 'ok'
  /** Observations used. */
  n: number
  /** Observations left out: a non-finite field, negative volume or lead time, hour outside [0, 24). */
  dropped: number
  encoding: HourEncoding
  /** Lead time in ms = intercept + volume·x + the hour terms (`hour`·h, or hourSin·sin(2πh/24) + hourCos·cos(2πh/24)). */
  coefficients: { intercept: number; volume: number; hour?: number; hourSin?: number; hourCos?: number }
  /** Harmonic only: size (ms) and hour of the daily peak of the hour effect; null for a linear encoding. */
  hourEffect: { amplitudeMs: number; peakHour: number } | null
  /** Columns that carried no information of their own (constant, or a combination of others); their coefficient is 0. */
  aliased: string[]
  /** Share of lead-time variance explained; null when every lead time is the same (nothing to explain). */
  r2: number | null
  /** sqrt(SSE / (n − parameters)), ms. */
  residualSd: number
}

export interface InsufficientData {
  status: 'insufficient_data'
  n: number
  dropped: number
  /** Observations needed. */
  minimum: number
  reason: string
}

export type LeadTimeModel = LeadTimeFit | InsufficientData

export interface FitOptions {
  encoding?: HourEncoding
  /** Fewest usable observations (default 5); there must also be more observations than parameters. */
  minObservations?: number
}

/**
 * Fits lead time against volume and hour. Unusable observations are dropped and counted, not thrown;
 * too few left gives `{ status: 'insufficient_data' }`.
 * @example
 * const model = fitLeadTime(history)
 * if (model.status === 'ok') predictLeadTime(model, 40, 15.5)
 */
export function fitLeadTime(observations: readonly LeadTimeObservation[], options: FitOptions = {}): LeadTimeModel {
  const encoding = options.encoding ?? 'harmonic'
  const rows = observations.filter(usable)
  const n = rows.length
  const dropped = observations.length - n
  const names = encoding === 'harmonic' ? ['volume', 'hourSin', 'hourCos'] : ['volume', 'hour']
  const minimum = Math.max(options.minObservations ?? 5, names.length + 2)
  if (n < minimum) {
    return {
      status: 'insufficient_data',
      n,
      dropped,
      minimum,
      reason: `${n} usable shipment${n === 1 ? '' : 's'} with both released and departed; need ${minimum}`,
    }
  }
  const columns = names.map((name) => rows.map((r) => design(name, r)))
  const y = rows.map((r) => r.leadTimeMs)
  const { beta, intercept, kept } = leastSquares(columns, y)
  const coefficients: LeadTimeFit['coefficients'] = { intercept, volume: 0 }
  names.forEach((name, j) => (coefficients[name as keyof LeadTimeFit['coefficients']] = beta[j]!))
  const fitted = rows.map((_, i) => intercept + columns.reduce((s, col, j) => s + beta[j]! * col[i]!, 0))
  const ybar = y.reduce((s, v) => s + v, 0) / n
  const sse = y.reduce((s, v, i) => s + (v - fitted[i]!) ** 2, 0)
  const sst = y.reduce((s, v) => s + (v - ybar) ** 2, 0)
  const params = 1 + kept.filter(Boolean).length
  const hourEffect =
    encoding === 'harmonic'
      ? { amplitudeMs: Math.hypot(coefficients.hourSin!, coefficients.hourCos!), peakHour: peakHour(coefficients.hourSin!, coefficients.hourCos!) }
      : null
  return {
    status: 'ok',
    n,
    dropped,
    encoding,
    coefficients,
    hourEffect,
    aliased: names.filter((_, j) => !kept[j]),
    r2: sst > 0 ? Math.max(0, Math.min(1, 1 - sse / sst)) : null,
    residualSd: Math.sqrt(sse / (n - params)),
  }
}

/** Predicted lead time in ms for a shipment of `volume` released at `hour` (floored at 0: a lead time cannot be negative). */
export function predictLeadTime(model: LeadTimeFit, volume: number, hour: number): number {
  const c = model.coefficients
  const obs = { volume, hour, leadTimeMs: 0 }
  const hourPart = model.encoding === 'harmonic' ? c.hourSin! * design('hourSin', obs) + c.hourCos! * design('hourCos', obs) : c.hour! * hour
  return Math.max(0, c.intercept + c.volume * volume + hourPart)
}

/** A shipment not yet departed. */
export interface OpenShipment {
  /** Epoch ms of `released`. */
  releasedAt: number
  volume: number
  /** Local hour of day of the release, as used in the fit (see `hourOfDay`). */
  hour: number
}

export interface RiskAssessment {
  /** Whether predicted departure + k·residualSd is after the deadline; null when the model has too little data. */
  atRisk: boolean | null
  /** releasedAt + predicted lead time, epoch ms. */
  predictedDepartureAt: number | null
  /** predictedDepartureAt + k·residualSd, epoch ms. */
  upperDepartureAt: number | null
  /** deadline − upperDepartureAt, ms; negative when at risk. */
  slackMs: number | null
  /** P(departure after the deadline) with normal residuals, in [0, 1]. */
  probabilityLate: number | null
  /** Why nothing could be said, when `atRisk` is null. */
  reason: string | null
}

/**
 * Is a shipment at risk of departing after `deadline` (epoch ms)? At risk when the predicted
 * departure plus k residual standard deviations (default k = 1.645, a one-sided 95 % bound) is past
 * the deadline. The prediction ignores how long the shipment has already waited.
 * @example
 * atRisk(model, { releasedAt, volume: 40, hour: 15.5 }, releasedAt + 4 * 3_600_000).atRisk
 */
export function atRisk(model: LeadTimeModel, shipment: OpenShipment, deadline: number, k = 1.645): RiskAssessment {
  if (model.status !== 'ok')
    return { atRisk: null, predictedDepartureAt: null, upperDepartureAt: null, slackMs: null, probabilityLate: null, reason: model.reason }
  if (!usable({ volume: shipment.volume, hour: shipment.hour, leadTimeMs: 0 }) || !Number.isFinite(shipment.releasedAt) || !Number.isFinite(deadline)) {
    const reason = 'shipment needs finite releasedAt and deadline, volume ≥ 0 and hour in [0, 24)'
    return { atRisk: null, predictedDepartureAt: null, upperDepartureAt: null, slackMs: null, probabilityLate: null, reason }
  }
  const predictedDepartureAt = shipment.releasedAt + predictLeadTime(model, shipment.volume, shipment.hour)
  const upperDepartureAt = predictedDepartureAt + k * model.residualSd
  const margin = deadline - predictedDepartureAt
  const probabilityLate = model.residualSd > 0 ? 0.5 * (1 - errorFunction(margin / (model.residualSd * Math.SQRT2))) : margin < 0 ? 1 : 0
  return {
    atRisk: upperDepartureAt > deadline,
    predictedDepartureAt,
    upperDepartureAt,
    slackMs: deadline - upperDepartureAt,
    probabilityLate: Math.min(1, Math.max(0, probabilityLate)),
    reason: null,
  }
}

/** Local hour of day in [0, 24) of an epoch-ms time, for a site `utcOffsetMinutes` ahead of UTC. */
export function hourOfDay(ms: number, utcOffsetMinutes = 0): number {
  const local = ms + utcOffsetMinutes * 60_000
  return (((local % (24 * HOUR_MS)) + 24 * HOUR_MS) % (24 * HOUR_MS)) / HOUR_MS
}

/** An observation from a departed shipment's step times; undefined while it has not departed. */
export function observationOf(s: { released?: number; departed?: number; volume: number }, utcOffsetMinutes = 0): LeadTimeObservation | undefined {
  if (s.released === undefined || s.departed === undefined) return undefined
  return { volume: s.volume, hour: hourOfDay(s.released, utcOffsetMinutes), leadTimeMs: s.departed - s.released }
}

function usable(o: LeadTimeObservation): boolean {
  return (
    Number.isFinite(o.volume) && o.volume >= 0 && Number.isFinite(o.leadTimeMs) && o.leadTimeMs >= 0 && Number.isFinite(o.hour) && o.hour >= 0 && o.hour < 24
  )
}

function design(name: string, o: LeadTimeObservation): number {
  if (name === 'volume') return o.volume
  if (name === 'hour') return o.hour
  const angle = (2 * Math.PI * o.hour) / 24
  return name === 'hourSin' ? Math.sin(angle) : Math.cos(angle)
}

/** Hour in [0, 24) where a·sin(2πh/24) + b·cos(2πh/24) peaks. */
function peakHour(a: number, b: number): number {
  if (a === 0 && b === 0) return 0
  const h = (Math.atan2(a, b) * 24) / (2 * Math.PI)
  return (h + 24) % 24
}

function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0))
}

/**
 * Least squares y ≈ intercept + Σ beta_j·x_j. Columns are centred (which takes the intercept out),
 * then orthogonalised one by one (modified Gram–Schmidt: X = QR). A column whose remainder after the
 * earlier ones is below 1e-9 of its own size is aliased (beta 0). Then R·beta = Qᵀy by back
 * substitution, and intercept = ȳ − Σ beta_j·x̄_j.
 */
function leastSquares(columns: readonly number[][], y: readonly number[]): { beta: number[]; intercept: number; kept: boolean[] } {
  const n = y.length
  const avg = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / n
  const means = columns.map(avg)
  const p = columns.length
  const q: (number[] | null)[] = []
  const r: number[][] = Array.from({ length: p }, () => new Array<number>(p).fill(0))
  for (let j = 0; j < p; j++) {
    const v = columns[j]!.map((x) => x - means[j]!)
    const size = norm(v)
    for (let i = 0; i < j; i++) {
      const qi = q[i]
      if (!qi) continue
      const dot = qi.reduce((s, x, t) => s + x * v[t]!, 0)
      r[i]![j] = dot
      for (let t = 0; t < n; t++) v[t]! -= dot * qi[t]!
    }
    const rest = norm(v)
    if (size === 0 || rest <= 1e-9 * size) {
      q.push(null)
      continue
    }
    r[j]![j] = rest
    q.push(v.map((x) => x / rest))
  }
  const ybar = avg(y)
  const qty = q.map((qj) => (qj ? qj.reduce((s, x, t) => s + x * (y[t]! - ybar), 0) : 0))
  const beta = new Array<number>(p).fill(0)
  for (let j = p - 1; j >= 0; j--) {
    if (!q[j]) continue
    let s = qty[j]!
    for (let i = j + 1; i < p; i++) s -= r[j]![i]! * beta[i]!
    beta[j] = s / r[j]![j]!
  }
  return { beta, intercept: ybar - beta.reduce((s, b, j) => s + b * means[j]!, 0), kept: q.map((x) => x !== null) }
}
