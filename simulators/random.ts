/**
 * Seeded randomness for the simulator: pure-rand's xoroshiro128+ for the uniform draws, and the few
 * distributions the warehouse needs on top of it (normal, Poisson, exponential). No other source of
 * randomness may be used in the model: the same seed must give byte-identical ground truth.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'

export class Random {
  private readonly g

  constructor(seed: number) {
    this.g = xoroshiro128plus(seed)
    // The first outputs of xoroshiro128+ from a small seed are close to the seed's bits: skip them.
    for (let i = 0; i < 16; i++) uniformFloat64(this.g)
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.g)
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }

  /** Normal(mean, sd), Box-Muller (one of the pair is dropped so each call costs the same draws). */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next()
    const v = this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** Poisson(lambda): Knuth's product of uniforms for small lambda, a rounded normal above 30. */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0
    if (lambda > 30) return Math.max(0, Math.round(this.normal(lambda, Math.sqrt(lambda))))
    const limit = Math.exp(-lambda)
    let k = 0
    let p = this.next()
    while (p > limit) {
      k++
      p *= this.next()
    }
    return k
  }

  /** Exponential with this mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next())
  }

  /** A child generator, so adding draws to one component does not shift another's. */
  fork(label: string): Random {
    let h = 2166136261
    for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 16777619)
    return new Random((h ^ Math.floor(this.next() * 2 ** 31)) >>> 0)
  }
}
