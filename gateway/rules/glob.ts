/**
 * Globs select series, SKUs, locations and devices: `*` matches any run of characters (also none),
 * `?` exactly one; everything else matches itself. Nothing else is special, so a glob is never a
 * regular expression and cannot be slow.
 */
import { z } from 'zod'
import { describeValue } from '../contracts/issues.ts'

const GLOB = /^[A-Za-z0-9._:/#+*?-]{1,128}$/

/** A glob field, e.g. `cold-*`, `SKU-10??`, `DOCK-2`. */
export const glob = z.string({ error: (iss) => `expected a glob such as "cold-*", got ${describeValue(iss.input)}` }).regex(GLOB, {
  error: (iss) => `${describeValue(iss.input)} is not a glob: use 1-128 letters, digits and . _ : / # + -, with * for any run of characters and ? for one`,
})

/**
 * Whether `text` matches `pattern`. Iterative two-pointer matching: at most length(text) ×
 * length(pattern) steps, with no regular expression behind it.
 * @example matchGlob('cold-*', 'cold-room') // true
 */
export function matchGlob(pattern: string, text: string): boolean {
  let p = 0
  let t = 0
  let star = -1
  let resume = 0
  while (t < text.length) {
    if (pattern[p] === '*') {
      star = p++
      resume = t
    } else if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++
      t++
    } else if (star >= 0) {
      p = star + 1
      t = ++resume
    } else {
      return false
    }
  }
  while (pattern[p] === '*') p++
  return p === pattern.length
}
