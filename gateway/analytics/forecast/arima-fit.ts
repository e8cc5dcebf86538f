/**
 * Fitting one seasonal ARIMA(p,d,q)(P,D,Q)[m] by conditional sum of squares (CSS), and forecasting
 * from it. The order search lives in arima.ts; this file knows nothing of model selection.
 *
 * The series is differenced D times at lag m and d times at lag 1, giving w. The ARMA part
 *   φ(B)Φ(Bᵐ)(w_t − μ) = θ(B)Θ(Bᵐ)e_t
 * is fitted by minimising Σe² over t ≥ (p + Pm), with pre-sample residuals 0, as R's
 * `arima(method = 'CSS')`. μ is the mean (d + D = 0) or the drift (d + D = 1), or absent.
 * Every AR and MA polynomial is parameterised through partial autocorrelations tanh(u) and the
 * Durbin-Levinson recursion (R's `partrans`), so each fit is stationary and invertible by
 * construction. The minimiser is Levenberg-Marquardt on the residual vector, with a forward
 * difference Jacobian. Log-likelihood, AIC, AICc and BIC are R's CSS ones, on the N = n − d − Dm
 * differenced points, so they compare ARIMA models of one series with the same d and D only.
 *
 * Forecast variance: σ² Σ ψⱼ² with ψ from the full polynomial (differences included), σ² = SSE / (residuals).
 */

export interface ArimaOrder {
  p: number
  d: number
  q: number
  P: number
  D: number
  Q: number
  /** Seasonal period (1 when there is none; then P = D = Q = 0). */
  m: number
  /** Fit a mean (d + D = 0) or drift (d + D = 1). */
  constant: boolean
}

export interface ArimaFit {
  order: ArimaOrder
  /** AR, seasonal AR, MA and seasonal MA coefficients in R's sign convention, and the constant. */
  ar: number[]
  sar: number[]
  ma: number[]
  sma: number[]
  mu: number
  sigma2: number
  loglik: number
  aic: number
  aicc: number
  bic: number
  /** One-step in-sample fitted values of x (NaN where the differences or the conditioning leave none). */
  fitted: number[]
  /** h-step point forecasts and their standard deviations. */
  forecast(h: number): { mean: number[]; sd: number[] }
}

/** Partial autocorrelations → coefficients a of 1 − Σ aᵢBⁱ (Durbin-Levinson); stationary when every |r| < 1. */
function fromPartials(r: readonly number[]): number[] {
  const a: number[] = []
  for (let k = 0; k < r.length; k++) {
    const prev = a.slice()
    a[k] = r[k]!
    for (let i = 0; i < k; i++) a[i] = prev[i]! - r[k]! * prev[k - 1 - i]!
  }
  return a
}

/**
 * Whether every root of 1 − Σ aᵢzⁱ lies outside |z| = radius: the Schur-Cohn step-down (inverse
 * Durbin-Levinson) on the coefficients scaled by radiusⁱ must give partials all inside (−1, 1).
 */
export function rootsOutside(a: readonly number[], radius: number): boolean {
  let b = a.map((v, i) => v * radius ** (i + 1))
  while (b.length && Math.abs(b[b.length - 1]!) < 1e-12) b.pop()
  for (let k = b.length; k > 0; k--) {
    const r = b[k - 1]!
    if (!(Math.abs(r) < 1)) return false
    const next: number[] = []
    for (let i = 0; i < k - 1; i++) next.push((b[i]! + r * b[k - 2 - i]!) / (1 - r * r))
    b = next
  }
  return true
}

/** Coefficients c of 1 + Σ cᵢBⁱ for the product of two such polynomials. */
function multiply(x: readonly number[], y: readonly number[]): number[] {
  const out = new Array<number>(x.length + y.length - 1).fill(0)
  for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) out[i + j]! += x[i]! * y[j]!
  return out
}

/** [1, −a₁, …] at lags step, 2·step, …: the polynomial 1 − Σ aᵢ B^(i·step). */
function arPoly(a: readonly number[], step: number): number[] {
  const out = new Array<number>(a.length * step + 1).fill(0)
  out[0] = 1
  a.forEach((v, i) => (out[(i + 1) * step] = -v))
  return out
}

/** Sparse (lag, coefficient) lists of the expanded AR and MA parts, from the unconstrained vector u. */
interface Expanded {
  ar: number[]
  sar: number[]
  ma: number[]
  sma: number[]
  mu: number
  arLag: Int32Array
  arCoef: Float64Array
  maLag: Int32Array
  maCoef: Float64Array
}

function expand(u: readonly number[], o: ArimaOrder, muFixed: number): Expanded {
  let k = 0
  const take = (n: number): number[] => fromPartials(u.slice(k, (k += n)).map(Math.tanh))
  const ar = take(o.p)
  const sar = take(o.P)
  const ma = take(o.q).map((v) => -v)
  const sma = take(o.Q).map((v) => -v)
  const mu = o.constant ? u[k]! : muFixed
  // AR as 1 − Σφ*B: φ* = −(coefficients of the product beyond lag 0).
  const arFull = multiply(arPoly(ar, 1), arPoly(sar, o.m))
  const maFull = multiply(
    arPoly(
      ma.map((v) => -v),
      1,
    ),
    arPoly(
      sma.map((v) => -v),
      o.m,
    ),
  )
  const sparse = (poly: number[], sign: number): [Int32Array, Float64Array] => {
    const lags: number[] = []
    const coef: number[] = []
    for (let i = 1; i < poly.length; i++) {
      if (poly[i] !== 0) {
        lags.push(i)
        coef.push(sign * poly[i]!)
      }
    }
    return [Int32Array.from(lags), Float64Array.from(coef)]
  }
  const [arLag, arCoef] = sparse(arFull, -1)
  const [maLag, maCoef] = sparse(maFull, 1)
  return { ar, sar, ma, sma, mu, arLag, arCoef, maLag, maCoef }
}

/** CSS residuals of w into e (e[t] = 0 for t < start); returns the sum of squares. */
function residuals(w: Float64Array, x: Expanded, start: number, e: Float64Array): number {
  const { arLag, arCoef, maLag, maCoef, mu } = x
  let sse = 0
  e.fill(0, 0, start)
  for (let t = start; t < w.length; t++) {
    let v = w[t]! - mu
    for (let i = 0; i < arLag.length; i++) v -= arCoef[i]! * (w[t - arLag[i]!]! - mu)
    for (let j = 0; j < maLag.length; j++) {
      const s = t - maLag[j]!
      if (s >= start) v -= maCoef[j]! * e[s]!
    }
    e[t] = v
    sse += v * v
  }
  return sse
}

/** Solves A x = b (A symmetric positive definite, small) by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] | null {
  const n = b.length
  const M = A.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < n; c++) {
    let piv = c
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r
    if (!(Math.abs(M[piv]![c]!) > 1e-300)) return null
    ;[M[c], M[piv]] = [M[piv]!, M[c]!]
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!
    for (let k = r + 1; k < n; k++) s -= M[r]![k]! * x[k]!
    x[r] = s / M[r]![r]!
  }
  return x.every(Number.isFinite) ? x : null
}

/** Levenberg-Marquardt on the CSS residuals: the unconstrained parameter vector at the least SSE found. */
function minimise(w: Float64Array, o: ArimaOrder, start: number, u0: number[], scale: number[]): { u: number[]; sse: number } {
  const n = w.length
  const k = u0.length
  const e = new Float64Array(n)
  const ej = new Float64Array(n)
  let u = u0.slice()
  let sse = residuals(w, expand(u, o, 0), start, e)
  if (k === 0) return { u, sse }
  let lambda = 1e-3
  for (let iter = 0; iter < 100; iter++) {
    const J: Float64Array[] = []
    for (let i = 0; i < k; i++) {
      const step = 1e-6 * (Math.abs(u[i]!) + scale[i]!)
      const ui = u.slice()
      ui[i]! += step
      residuals(w, expand(ui, o, 0), start, ej)
      const col = new Float64Array(n)
      for (let t = start; t < n; t++) col[t] = (ej[t]! - e[t]!) / step
      J.push(col)
    }
    const A = Array.from({ length: k }, () => new Array<number>(k).fill(0))
    const g = new Array<number>(k).fill(0)
    for (let i = 0; i < k; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0
        for (let t = start; t < n; t++) s += J[i]![t]! * J[j]![t]!
        A[i]![j] = s
        A[j]![i] = s
      }
      let s = 0
      for (let t = start; t < n; t++) s += J[i]![t]! * e[t]!
      g[i] = -s
    }
    let improved = false
    while (lambda < 1e10) {
      const Ad = A.map((row, i) => row.map((v, j) => (i === j ? v * (1 + lambda) + 1e-12 : v)))
      const d = solve(Ad, g)
      if (d) {
        const cand = u.map((v, i) => v + d[i]!)
        const s = residuals(w, expand(cand, o, 0), start, ej)
        if (Number.isFinite(s) && s < sse) {
          const gain = sse - s
          u = cand
          sse = s
          e.set(ej)
          lambda = Math.max(1e-9, lambda / 3)
          improved = gain > 1e-7 * sse
          break
        }
      }
      lambda *= 4
    }
    if (!improved) break
  }
  return { u, sse }
}

/** Applies `lags` differences in order; returns every stage (stage 0 is x). */
function difference(x: readonly number[], lags: readonly number[]): number[][] {
  const stages = [x.slice()]
  for (const lag of lags) {
    const z = stages[stages.length - 1]!
    stages.push(z.slice(lag).map((v, i) => v - z[i]!))
  }
  return stages
}

/**
 * Fits one ARIMA order by CSS. Throws RangeError when the differenced series is too short for the
 * order (fewer than p + Pm + 3 points after the conditioning).
 */
export function fitArima(x: readonly number[], o: ArimaOrder): ArimaFit {
  const lags = [...new Array<number>(o.D).fill(o.m), ...new Array<number>(o.d).fill(1)]
  const stages = difference(x, lags)
  const wArr = stages[stages.length - 1]!
  const w = Float64Array.from(wArr)
  const N = w.length
  const start = o.p + o.P * o.m
  const npar = o.p + o.q + o.P + o.Q + (o.constant ? 1 : 0)
  if (N - start < npar + 3) throw new RangeError(`arima: ${N} differenced points are too few for order ${JSON.stringify(o)}`)
  let mean = 0
  for (const v of w) mean += v / N
  let sd = 0
  for (const v of w) sd += (v - mean) ** 2 / N
  sd = Math.sqrt(sd)
  const u0 = new Array<number>(npar).fill(0)
  const scale = new Array<number>(npar).fill(1)
  if (o.constant) {
    u0[npar - 1] = mean
    scale[npar - 1] = sd + 1e-12
  }
  const { u, sse } = minimise(w, o, start, u0, scale)
  const ex = expand(u, o, 0)
  const e = new Float64Array(N)
  residuals(w, ex, start, e)
  const nu = N - start
  const sigma2 = sse / nu
  const s2 = Math.max(sigma2, 1e-12 * (1 + sd * sd))
  const loglik = -0.5 * N * (Math.log(2 * Math.PI * s2) + 1)
  const k = npar + 1
  const aic = -2 * loglik + 2 * k
  const aicc = N - k - 1 > 0 ? aic + (2 * k * (k + 1)) / (N - k - 1) : Infinity
  const bic = aic + k * (Math.log(N) - 2)
  const offset = x.length - N
  const fitted = x.map((v, t) => (t - offset >= start ? v - e[t - offset]! : NaN))
  // Full AR polynomial with the differences, for ψ weights.
  let full = multiply(arPoly(ex.ar, 1), arPoly(ex.sar, o.m))
  for (const lag of lags) full = multiply(full, arPoly([1], lag))
  const maFull = multiply(
    arPoly(
      ex.ma.map((v) => -v),
      1,
    ),
    arPoly(
      ex.sma.map((v) => -v),
      o.m,
    ),
  )
  return {
    order: o,
    ar: ex.ar,
    sar: ex.sar,
    ma: ex.ma,
    sma: ex.sma,
    mu: o.constant ? ex.mu : 0,
    sigma2,
    loglik,
    aic,
    aicc,
    bic,
    fitted,
    forecast(h: number) {
      // Forecast w, then undo each difference from the last stage back to x.
      const wf = Array.from(w)
      const ef = Array.from(e)
      for (let i = 0; i < h; i++) {
        const t = N + i
        let v = ex.mu
        for (let a = 0; a < ex.arLag.length; a++) v += ex.arCoef[a]! * (wf[t - ex.arLag[a]!]! - ex.mu)
        for (let b = 0; b < ex.maLag.length; b++) {
          const s = t - ex.maLag[b]!
          if (s >= start) v += ex.maCoef[b]! * ef[s]!
        }
        wf.push(v)
        ef.push(0)
      }
      let f = wf.slice(N)
      for (let s = lags.length - 1; s >= 0; s--) {
        const z = stages[s]!.slice()
        for (let i = 0; i < h; i++) z.push(f[i]! + z[z.length - lags[s]!]!)
        f = z.slice(z.length - h)
      }
      const psi = [1]
      for (let j = 1; j < h; j++) {
        let v = maFull[j] ?? 0
        for (let i = 1; i <= Math.min(j, full.length - 1); i++) v -= full[i]! * psi[j - i]!
        psi.push(v)
      }
      let acc = 0
      const sdOut = psi.map((p) => Math.sqrt(sigma2 * (acc += p * p)))
      return { mean: f, sd: sdOut }
    },
  }
}
