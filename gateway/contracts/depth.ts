/**
 * Nesting depth of JSON text, measured on the raw bytes without recursion, so a payload of
 * 100,000 nested arrays costs one linear pass and no stack.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d

/**
 * The byte offset at which `json` first nests deeper than `maxDepth` objects/arrays, or -1.
 * Brackets inside strings are ignored. Exact for valid JSON; run it after `JSON.parse` succeeded.
 * @example depthExceededAt(Buffer.from('{"a":[1]}'), 1) // 5: the `[` opens level 2
 */
export function depthExceededAt(json: Uint8Array, maxDepth: number): number {
  let depth = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json[i]
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return i
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return -1
}
