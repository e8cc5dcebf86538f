/**
 * The rule pack language (gateway/rules, rules/README.md): durations, globs, templates, the
 * condition kinds and hysteresis. Rules are data: validated once, never executed (house style §4, §7).
 */
import { describe, expect, it } from 'vitest'
import { CONDITION_KINDS } from '../gateway/rules/conditions/index.ts'
import { parseDuration } from '../gateway/rules/duration.ts'
import { matchGlob } from '../gateway/rules/glob.ts'
import { RULE_PARSE_OPTIONS, formatRuleIssues } from '../gateway/rules/issues.ts'
import { ruleSchema, rulePackSchema } from '../gateway/rules/schema.ts'
import { parseTemplate, renderTemplate } from '../gateway/rules/template.ts'

/** Errors of a one-rule pack, as the loader words them, for a file called `p.yaml`. */
function errorsOf(rule: Record<string, unknown>): string[] {
  const pack = { version: 1, rules: [rule] }
  const result = rulePackSchema.safeParse(pack, RULE_PARSE_OPTIONS)
  return result.success ? [] : formatRuleIssues('p.yaml', pack, result.error.issues)
}

const warm = {
  id: 'warm',
  severity: 'warning',
  condition: { kind: 'threshold', metric: 'temperature_c', window: { type: 'tumbling', size: '5m' }, agg: 'avg', op: '>', value: 8 },
}

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['10m', 600_000],
    ['4h', 14_400_000],
    ['1d', 86_400_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    [0, 0],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms })
  })

  it.each([
    ['10 minutes', '"10 minutes" is not a duration (use 30s, 10m, 4h, 1d)'],
    ['10', '"10" is not a duration (use 30s, 10m, 4h, 1d)'],
    ['-5m', '"-5m" is not a duration (use 30s, 10m, 4h, 1d)'],
    ['1.5h', '"1.5h" is not a duration (use 30s, 10m, 4h, 1d)'],
    [600, 'number 600 is not a duration (use 30s, 10m, 4h, 1d)'],
    ['30m1h', '"30m1h" repeats or reorders units; write them largest first, once each (e.g. 1h30m)'],
    ['400d', '"400d" is longer than a year (366d); use 30s, 10m, 4h, 1d'],
  ])('refuses %j with a message that says what to write', (text, message) => {
    expect(parseDuration(text)).toEqual({ ok: false, message })
  })
})

describe('globs', () => {
  it.each([
    ['cold-*', 'cold-room', true],
    ['cold-*', 'cold-', true],
    ['cold-*', 'freezer-1', false],
    ['SKU-10??', 'SKU-1001', true],
    ['SKU-10??', 'SKU-100', false],
    ['*', '', true],
    ['DOCK-2*', 'DOCK-2', true],
    ['A.*', 'AB', false], // . is a character, not a regular expression
    ['*-*-03', 'A-01-03', true],
  ])('%s matches %j: %s', (pattern, text, expected) => {
    expect(matchGlob(pattern, text)).toBe(expected)
  })

  it('refuses a glob with characters outside the identifier set', () => {
    expect(errorsOf({ ...warm, condition: { ...warm.condition, select: { zone: 'cold room' } } })).toEqual([
      'p.yaml: rule warm: condition.select.zone: string "cold room" is not a glob: use 1-128 letters, digits and . _ : / # + -, with * for any run of characters and ? for one',
    ])
  })
})

describe('templates are data lookups, never code', () => {
  const known = new Set(['value', 'threshold'])

  it('fills placeholders by name', () => {
    const parsed = parseTemplate('{{ labels.zone }} at {{value}} °C (limit {{ threshold }})', known)
    expect(parsed.ok).toBe(true)
    if (!parsed.ok) return
    const values = new Map([
      ['labels.zone', 'cold-room'],
      ['value', '9.2'],
      ['threshold', '8'],
    ])
    expect(renderTemplate(parsed.segments, values)).toBe('cold-room at 9.2 °C (limit 8)')
  })

  it.each(['{{ process.exit() }}', "{{ constructor.constructor('return process')() }}", '{{ value | upper }}', '{{ value + 1 }}', '{{ labels.sku.length }}'])(
    'refuses %s as an unknown placeholder',
    (text) => {
      expect(parseTemplate(text, known)).toEqual({
        ok: false,
        message: `unknown placeholder ${text}; a placeholder is a name looked up in the alert, never code: value, threshold, labels.<name>`,
      })
    },
  )

  it('renders a placeholder with no value as empty text, never looking further', () => {
    const parsed = parseTemplate('[{{ labels.constructor }}]', known)
    expect(parsed.ok && renderTemplate(parsed.segments, new Map())).toBe('[]')
  })

  it.each([
    ['x {{ value', '"{{" at character 3 is not closed by "}}"; placeholders are written {{ name }}'],
    ['x }} y', '"}}" at character 3 has no opening "{{"; placeholders are written {{ name }}'],
  ])('refuses unbalanced braces in %j', (text, message) => {
    expect(parseTemplate(text, known)).toEqual({ ok: false, message })
  })

  it('refuses a placeholder that the rule kind does not offer', () => {
    expect(errorsOf({ ...warm, annotations: { summary: 'due {{ deadline }}' } })).toEqual([
      'p.yaml: rule warm: annotations.summary: unknown placeholder {{ deadline }}; a placeholder is a name looked up in a threshold alert, never code: value, threshold, since, rule.id, rule.severity, clear, labels.<name>',
    ])
  })

  it('refuses a label that the alert does not carry, and accepts the rule’s own labels', () => {
    expect(errorsOf({ ...warm, labels: { team: 'cold' }, annotations: { summary: '{{ labels.team }} {{ labels.zone }} {{ labels.location }}' } })).toEqual([
      'p.yaml: rule warm: annotations.summary: {{ labels.location }} is not a label of a threshold alert; its labels are metric, site, zone, device, sku, team',
    ])
  })
})

describe('hysteresis: clear must be on the safe side of value', () => {
  const withClear = (op: string, value: number, clear: number) => ({ ...warm, condition: { ...warm.condition, op, value, clear } })

  it.each([
    ['>', 8, 6],
    ['>=', 8, 7.5],
    ['<', 2, 4],
    ['<=', 2, 3],
  ])('accepts op %s value %d clear %d', (op, value, clear) => {
    expect(errorsOf(withClear(op, value, clear))).toEqual([])
  })

  it.each([
    ['>', 8, 9, '9 must be below value 8: the alert fires when avg > 8 and clears once avg < clear (hysteresis); omit clear to clear at 8'],
    ['>=', 8, 8, '8 must be below value 8: the alert fires when avg >= 8 and clears once avg < clear (hysteresis); omit clear to clear at 8'],
    ['<', 2, 1, '1 must be above value 2: the alert fires when avg < 2 and clears once avg > clear (hysteresis); omit clear to clear at 2'],
  ])('refuses op %s value %d clear %d', (op, value, clear, message) => {
    expect(errorsOf(withClear(op, value, clear))).toEqual([`p.yaml: rule warm: condition.clear: ${message}`])
  })

  it('refuses a stock rule that clears at a lower policy level than it fires at', () => {
    expect(errorsOf({ id: 's', severity: 'info', condition: { kind: 'stock', below: 'reorder_point', clear: 'safety_stock' } })).toEqual([
      'p.yaml: rule s: condition.clear: safety_stock must be above below (reorder_point): the alert fires when on hand < reorder_point and clears once on hand >= clear (hysteresis); omit clear to clear at reorder_point',
    ])
  })

  it('refuses a battery rule that clears below where it fires', () => {
    expect(errorsOf({ id: 'b', severity: 'info', condition: { kind: 'battery_low', below: 20, clear: 15 } })).toEqual([
      'p.yaml: rule b: condition.clear: 15 must be above below (20): the alert fires when battery_pct < 20 and clears once battery_pct >= clear (hysteresis); omit clear to clear at 20',
    ])
  })

  it('refuses a forecast rule on the wrong side', () => {
    expect(errorsOf({ id: 'f', severity: 'info', condition: { kind: 'forecast', signal: 'days_of_cover', op: '<', value: 3, clear: 2 } })).toEqual([
      'p.yaml: rule f: condition.clear: 2 must be above value 3: the alert fires when days_of_cover < 3 and clears once days_of_cover > clear (hysteresis); omit clear to clear at 3',
    ])
  })
})

describe('condition kinds', () => {
  const minimal: Record<string, Record<string, unknown>> = {
    threshold: warm.condition,
    stock: { kind: 'stock', below: 'reorder_point' },
    stock_discrepancy: { kind: 'stock_discrepancy', tolerance: { units: 2 } },
    forecast: { kind: 'forecast', signal: 'stockout_within', horizon: '7d', op: '>=', value: 0.8 },
    shipment_sla: { kind: 'shipment_sla', step: 'released->loaded', within: '4h' },
    shipment_stalled: { kind: 'shipment_stalled', no_update_for: '2h' },
    device_silent: { kind: 'device_silent', silent_for: '15m' },
    battery_low: { kind: 'battery_low', below: 20 },
    absence: { kind: 'absence', event: 'receive', schedule: { days: ['mon'], from: '22:00', to: '06:00' }, every: '2h' },
  }

  it('has a minimal example for every registered kind', () => {
    expect(Object.keys(minimal)).toEqual([...CONDITION_KINDS.keys()])
  })

  it.each(Object.entries(minimal))('accepts a minimal %s rule', (kind, condition) => {
    expect(errorsOf({ id: kind.replace(/_/g, '-'), severity: 'info', condition })).toEqual([])
  })

  it('fills the documented defaults', () => {
    const rule = ruleSchema.parse({ ...warm })
    expect(rule).toMatchObject({ for: 0, clear_for: 0, enabled: true, labels: {}, annotations: {}, notify: [] })
    expect(rule.condition).toMatchObject({ select: {}, window: { type: 'tumbling', size: 300_000 } })
    const stalled = ruleSchema.parse({ id: 's', severity: 'info', condition: minimal.shipment_stalled })
    expect(stalled.condition).toEqual({ kind: 'shipment_stalled', no_update_for: 7_200_000, status: ['released', 'picked', 'packed', 'loaded', 'departed'] })
  })

  it('reads a shipment step into from and to, and refuses one that goes backwards', () => {
    const rule = ruleSchema.parse({ id: 'sla', severity: 'info', condition: minimal.shipment_sla })
    expect(rule.condition).toEqual({ kind: 'shipment_sla', step: { from: 'released', to: 'loaded' }, within: 14_400_000 })
    expect(errorsOf({ id: 'sla', severity: 'info', condition: { ...minimal.shipment_sla, step: 'loaded -> released' } })).toEqual([
      'p.yaml: rule sla: condition.step: "loaded -> released" does not go forward; steps run released -> picked -> packed -> loaded -> departed -> delivered',
    ])
  })

  it('refuses a rule label that a condition label already uses', () => {
    expect(errorsOf({ id: 's', severity: 'info', condition: minimal.stock, labels: { sku: 'x' } })).toEqual([
      'p.yaml: rule s: labels.sku: clashes with the sku label that every stock alert carries; choose another name',
    ])
  })

  it('refuses an every on a tumbling window, and an every longer than a sliding window', () => {
    const window = (w: object) => errorsOf({ ...warm, condition: { ...warm.condition, window: w } })
    expect(window({ type: 'tumbling', size: '5m', every: '1m' })).toEqual([
      'p.yaml: rule warm: condition.window.every: a tumbling window advances by its size; remove every, or use type: sliding',
    ])
    expect(window({ type: 'sliding', size: '5m', every: '10m' })).toEqual([
      'p.yaml: rule warm: condition.window.every: must not be longer than size, or some points would never be in a window',
    ])
  })

  it('refuses an absence gap longer than its schedule window', () => {
    expect(errorsOf({ id: 'a', severity: 'info', condition: { ...minimal.absence, every: '9h' } })).toEqual([
      'p.yaml: rule a: condition.every: is longer than the schedule window (22:00-06:00), so it could never fire',
    ])
  })
})

describe('rule ids', () => {
  it('reserves the stockyard_ prefix for the gateway’s built-in alerts', () => {
    expect(errorsOf({ ...warm, id: 'stockyard_replication_at_risk' })).toEqual([expect.stringMatching(/reserved for the gateway's built-in alerts/)])
    expect(errorsOf({ ...warm, id: 'stockyard-cold' })).toEqual([])
  })
})
