/**
 * Annotation templates: plain text with `{{ name }}` placeholders that are looked up in the alert
 * (`{{ value }}`, `{{ labels.sku }}`). A placeholder is a name from a fixed list, never an expression:
 * there are no calls, operators, filters or property walks, so a rule pack cannot run code.
 */

/** A parsed template: literal text and placeholder names, in order. */
export type Segment = { text: string } | { name: string }

/** Placeholders every rule offers, whatever its condition. */
export const COMMON_PLACEHOLDERS = ['value', 'threshold', 'since', 'rule.id', 'rule.severity'] as const

const LABEL = /^labels\.([a-z][a-z0-9_]{0,63})$/
const OPEN = '{{'
const CLOSE = '}}'

/** The label a `labels.<name>` placeholder reads, or undefined for other placeholders. */
export function labelOf(name: string): string | undefined {
  return LABEL.exec(name)?.[1]
}

/**
 * Split a template into text and placeholders, refusing anything but `labels.<name>` and the
 * names in `known`. Returns an error message that says what to write instead.
 * @example parseTemplate('{{ labels.zone }} is {{ value }} °C', new Set(['value']))
 */
export function parseTemplate(text: string, known: ReadonlySet<string>): { ok: true; segments: Segment[] } | { ok: false; message: string } {
  const segments: Segment[] = []
  let at = 0
  while (at < text.length) {
    const open = text.indexOf(OPEN, at)
    const stray = text.indexOf(CLOSE, at)
    if (stray >= 0 && (open < 0 || stray < open)) {
      return { ok: false, message: `"}}" at character ${stray + 1} has no opening "{{"; placeholders are written {{ name }}` }
    }
    if (open < 0) break
    const close = text.indexOf(CLOSE, open + OPEN.length)
    if (close < 0) return { ok: false, message: `"{{" at character ${open + 1} is not closed by "}}"; placeholders are written {{ name }}` }
    if (open > at) segments.push({ text: text.slice(at, open) })
    const raw = text.slice(open, close + CLOSE.length)
    const name = text.slice(open + OPEN.length, close).trim()
    if (!known.has(name) && labelOf(name) === undefined) {
      return {
        ok: false,
        message: `unknown placeholder ${raw}; a placeholder is a name looked up in the alert, never code: ${[...known].join(', ')}, labels.<name>`,
      }
    }
    segments.push({ name })
    at = close + CLOSE.length
  }
  if (at < text.length) segments.push({ text: text.slice(at) })
  return { ok: true, segments }
}

/**
 * Fill a parsed template by looking each placeholder up; a name without a value renders as ''.
 * @example renderTemplate(segments, new Map([['value', '9.1']]))
 */
export function renderTemplate(segments: readonly Segment[], values: ReadonlyMap<string, string>): string {
  return segments.map((s) => ('text' in s ? s.text : (values.get(s.name) ?? ''))).join('')
}
