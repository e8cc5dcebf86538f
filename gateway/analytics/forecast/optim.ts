/**
 * Bounded Nelder-Mead minimisation, the optimiser behind the ETS fits.
 *
 * Hand-written rather than the `fmin` package for two reasons: `fmin` 0.0.4's build is a UMD bundle
 * that exports nothing when imported as ESM (its package.json says `"type": "module"`), and its
 * shrink step assigns an undeclared `i`, a ReferenceError in strict mode. It also allocates arrays
 * and sorts the simplex every iteration. This one keeps the simplex in one Float64Array, scans for
 * best/worst instead of sorting, and allocates nothing once started: the ETS auto-selection calls
 * it tens of thousands of times (1,000 series × up to 15 models), so that matters.
 *
 * Bounds are a box; every trial point is clamped into it (a projection), so the objective never
 * sees an infeasible point. Constraints that are not a box (beta < alpha, ...) are the caller's to
 * express by reparametrisation. The objective may return Infinity for points it rejects.
 */

/** Options for `nelderMead`; `lower`/`upper` have the dimension of `x0` (±Infinity for unbounded). */
export interface NelderMeadOptions {
  readonly lower: Float64Array
  readonly upper: Float64Array
  /** Initial simplex edge per coordinate (default 10 % of |x0|, or 0.00025 at 0). */
  readonly step?: Float64Array
  /** Stop after this many objective evaluations (default 200 × dimension). */
  readonly maxEvals?: number
  /** Stop when (f_worst − f_best) ≤ ftol × (|f_best| + |f_worst|) + 1e-300 (default 1e-8, as R's `optim`). */
  readonly ftol?: number
}

/** Where `nelderMead` stopped: the best point seen, its value and the evaluations spent. */
export interface NelderMeadResult {
  x: Float64Array
  fx: number
  evals: number
}

/**
 * Minimises `f` from `x0` within the box [lower, upper]. `f` is called with a scratch array it must
 * not keep or modify. Deterministic; never throws for a finite start.
 * @example nelderMead((x) => (x[0]! - 1) ** 2, Float64Array.of(0), { lower: Float64Array.of(-5), upper: Float64Array.of(5) })
 */
export function nelderMead(f: (x: Float64Array) => number, x0: Float64Array, opts: NelderMeadOptions): NelderMeadResult {
  const d = x0.length
  const { lower, upper } = opts
  const maxEvals = opts.maxEvals ?? 200 * Math.max(1, d)
  const ftol = opts.ftol ?? 1e-8
  const np = d + 1
  const simplex = new Float64Array(np * d)
  const fv = new Float64Array(np)
  const centroid = new Float64Array(d)
  const xr = new Float64Array(d)
  const xe = new Float64Array(d)
  const xc = new Float64Array(d)
  let evals = 0

  const clamp = (x: Float64Array): void => {
    for (let j = 0; j < d; j++) {
      const v = x[j]!
      if (v < lower[j]!) x[j] = lower[j]!
      else if (v > upper[j]!) x[j] = upper[j]!
    }
  }
  const evaluate = (x: Float64Array): number => {
    evals++
    const v = f(x)
    return Number.isNaN(v) ? Infinity : v
  }

  // Initial simplex: x0 and one step along each axis, turned back when it would leave the box.
  for (let j = 0; j < d; j++) simplex[j] = x0[j]!
  clamp(simplex.subarray(0, d))
  for (let i = 1; i < np; i++) {
    const row = simplex.subarray(i * d, i * d + d)
    row.set(simplex.subarray(0, d))
    const k = i - 1
    const s = opts.step?.[k] ?? (row[k] !== 0 ? 0.1 * Math.abs(row[k]!) : 0.00025)
    row[k] = row[k]! + s > upper[k]! ? row[k]! - s : row[k]! + s
    clamp(row)
  }
  for (let i = 0; i < np; i++) fv[i] = evaluate(simplex.subarray(i * d, i * d + d))

  while (evals < maxEvals) {
    let best = 0
    let worst = 0
    for (let i = 1; i < np; i++) {
      if (fv[i]! < fv[best]!) best = i
      if (fv[i]! > fv[worst]!) worst = i
    }
    if (best === worst) worst = best === 0 ? 1 : 0
    let second = best
    for (let i = 0; i < np; i++) if (i !== worst && fv[i]! > fv[second]!) second = i
    const fb = fv[best]!
    const fw = fv[worst]!
    if (Number.isFinite(fw) && fw - fb <= ftol * (Math.abs(fb) + Math.abs(fw)) + 1e-300) break

    centroid.fill(0)
    for (let i = 0; i < np; i++) {
      if (i === worst) continue
      const o = i * d
      for (let j = 0; j < d; j++) centroid[j] = centroid[j]! + simplex[o + j]!
    }
    for (let j = 0; j < d; j++) centroid[j] = centroid[j]! / d
    const wo = worst * d
    for (let j = 0; j < d; j++) xr[j] = 2 * centroid[j]! - simplex[wo + j]!
    clamp(xr)
    const fr = evaluate(xr)
    if (fr < fb) {
      for (let j = 0; j < d; j++) xe[j] = 3 * centroid[j]! - 2 * simplex[wo + j]!
      clamp(xe)
      const fe = evaluate(xe)
      if (fe < fr) accept(wo, xe, fe)
      else accept(wo, xr, fr)
      continue
    }
    if (fr < fv[second]!) {
      accept(wo, xr, fr)
      continue
    }
    // Contraction: outside when the reflection beat the worst, inside otherwise.
    const outside = fr < fw
    for (let j = 0; j < d; j++) xc[j] = outside ? 1.5 * centroid[j]! - 0.5 * simplex[wo + j]! : 0.5 * centroid[j]! + 0.5 * simplex[wo + j]!
    clamp(xc)
    const fc = evaluate(xc)
    if (fc < (outside ? fr : fw)) {
      accept(wo, xc, fc)
      continue
    }
    // Shrink towards the best vertex.
    const bo = best * d
    for (let i = 0; i < np; i++) {
      if (i === best) continue
      const o = i * d
      for (let j = 0; j < d; j++) simplex[o + j] = 0.5 * (simplex[bo + j]! + simplex[o + j]!)
      fv[i] = evaluate(simplex.subarray(o, o + d))
      if (evals >= maxEvals) break
    }
  }

  let best = 0
  for (let i = 1; i < np; i++) if (fv[i]! < fv[best]!) best = i
  return { x: simplex.slice(best * d, best * d + d), fx: fv[best]!, evals }

  function accept(offset: number, x: Float64Array, fx: number): void {
    for (let j = 0; j < d; j++) simplex[offset + j] = x[j]!
    fv[offset / d] = fx
  }
}
