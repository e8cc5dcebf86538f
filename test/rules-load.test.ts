/**
 * Loading rule packs (issue 3, "Rule packs"): every `*.yaml`/`*.yml` in a directory is validated as a
 * whole; every error names the file, the rule (its id, or its index when the id is unusable) and the
 * field, and all errors are reported at once. Nothing in a pack is executed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { loadRulePacks, parseRulePack } from '../gateway/rules/load.ts'

const FILE = 'rules/bad.yaml'

/** A valid rule to break one field at a time. */
const coldRoom = {
  id: 'cold-room-warm',
  condition: {
    kind: 'threshold',
    metric: 'temperature_c',
    select: { zone: 'cold-*' },
    window: { type: 'sliding', size: '5m', every: '30s' },
    agg: 'avg',
    op: '>',
    value: 8,
    clear: 6,
  },
  for: '10m',
  severity: 'critical',
  annotations: { summary: '{{ labels.zone }} at {{ value }} °C' },
  notify: ['mqtt', 'webhook:ops'],
}
type RuleData = Record<string, unknown>

function packText(...rules: unknown[]): string {
  return stringify({ version: 1, rules })
}

function errorsFor(text: string): string[] {
  const result = parseRulePack(text, FILE)
  return result.ok ? [] : result.errors
}

function withCondition(change: RuleData): RuleData {
  return { ...coldRoom, condition: { ...coldRoom.condition, ...change } }
}

describe('the shipped pack', () => {
  it('loads, and its cold-room rule means what its comments say', () => {
    const result = loadRulePacks('rules')
    expect(result.ok ? [] : result.errors).toEqual([])
    if (!result.ok) return
    expect(result.packs.map((p) => p.file)).toEqual([join('rules', 'warehouse.yaml')])
    const kinds = new Set(result.rules.map((r) => r.condition.kind))
    expect([...kinds].sort()).toEqual([
      'absence',
      'battery_low',
      'device_silent',
      'forecast',
      'shipment_sla',
      'shipment_stalled',
      'stock',
      'stock_discrepancy',
      'threshold',
    ])
    const cold = result.rules.find((r) => r.id === 'cold-room-warm')
    expect(cold).toMatchObject({
      condition: { kind: 'threshold', metric: 'temperature_c', window: { type: 'sliding', size: 300_000 }, agg: 'avg', op: '>', value: 8, clear: 6 },
      for: 600_000,
      severity: 'critical',
    })
    const sla = result.rules.find((r) => r.id === 'dispatch-sla')
    expect(sla?.condition).toMatchObject({ step: { from: 'released', to: 'loaded' }, within: 4 * 3_600_000 })
  })

  it('is frozen, so no caller can change a running rule by accident', () => {
    const result = loadRulePacks('rules')
    if (!result.ok) throw new Error(result.errors.join('\n'))
    expect(Object.isFrozen(result.rules[0]!.condition)).toBe(true)
  })
})

describe('a bad pack is refused with file, rule and field', () => {
  it.each<[string, unknown[], string]>([
    [
      'a duration in words',
      [withCondition({ window: { type: 'sliding', size: '10 minutes' } })],
      'rules/bad.yaml: rule cold-room-warm: condition.window.size: "10 minutes" is not a duration (use 30s, 10m, 4h, 1d)',
    ],
    ['a bad for', [{ ...coldRoom, for: 10 }], 'rules/bad.yaml: rule cold-room-warm: for: number 10 is not a duration (use 30s, 10m, 4h, 1d)'],
    [
      'an unknown condition kind',
      [withCondition({ kind: 'temperature' })],
      'rules/bad.yaml: rule cold-room-warm: condition.kind: unknown condition kind "temperature"; kinds are threshold, stock, stock_discrepancy, forecast, shipment_sla, shipment_stalled, device_silent, battery_low, absence',
    ],
    [
      'an unknown key in a rule',
      [{ ...coldRoom, clera: 6 }],
      'rules/bad.yaml: rule cold-room-warm: clera: unknown key; allowed keys: id, description, enabled, condition, for, clear_for, severity, labels, annotations, notify',
    ],
    [
      'an unknown key in a condition',
      [withCondition({ treshold: 8 })],
      'rules/bad.yaml: rule cold-room-warm: condition.treshold: unknown key; allowed keys: kind, metric, select, window, agg, op, value, clear',
    ],
    [
      'an unknown selector label',
      [withCondition({ select: { room: 'cold' } })],
      'rules/bad.yaml: rule cold-room-warm: condition.select.room: unknown key; allowed keys: site, zone, device, sku',
    ],
    [
      'hysteresis on the wrong side',
      [withCondition({ clear: 9 })],
      'rules/bad.yaml: rule cold-room-warm: condition.clear: 9 must be below value 8: the alert fires when avg > 8 and clears once avg < clear (hysteresis); omit clear to clear at 8',
    ],
    [
      'a severity that does not exist',
      [{ ...coldRoom, severity: 'high' }],
      'rules/bad.yaml: rule cold-room-warm: severity: expected one of "info", "warning", "critical", got string "high"',
    ],
    [
      'a notification target that does not exist',
      [{ ...coldRoom, notify: ['mqtt', 'email'] }],
      'rules/bad.yaml: rule cold-room-warm: notify[1]: string "email" is not a notification target; use mqtt, bus or webhook:<name> (a webhook named in the gateway config)',
    ],
    [
      'a label value that YAML read as a number',
      [{ ...coldRoom, labels: { dock: 2 } }],
      'rules/bad.yaml: rule cold-room-warm: labels.dock: expected a string, got number 2; quote it in YAML: "2"',
    ],
    [
      'code in a template',
      [{ ...coldRoom, annotations: { summary: '{{ process.exit() }}' } }],
      'rules/bad.yaml: rule cold-room-warm: annotations.summary: unknown placeholder {{ process.exit() }}; a placeholder is a name looked up in the alert, never code: value, threshold, since, rule.id, rule.severity, clear, scale, scans, deadline, last_update, last_seen, last_event, labels.<name>',
    ],
    ['a missing id, named by index', [{ ...coldRoom, id: undefined }], 'rules/bad.yaml: rules[0]: id: missing; every rule needs an id such as cold-room-warm'],
    [
      'an invalid id, named by index',
      [{ ...coldRoom, id: 'Cold Room' }],
      'rules/bad.yaml: rules[0]: id: string "Cold Room" is not a rule id; use 1-64 lowercase letters, digits and _ . -, starting with a letter or digit',
    ],
    ['a rule that is not a mapping', ['cold-room-warm'], 'rules/bad.yaml: rules[0]: expected a mapping (key: value), got string "cold-room-warm"'],
    [
      'a time of day out of range',
      [
        {
          id: 'dock',
          severity: 'info',
          condition: { kind: 'absence', event: 'receive', schedule: { days: ['mon'], from: '06:00', to: '25:00' }, every: '1h' },
        },
      ],
      'rules/bad.yaml: rule dock: condition.schedule.to: "25:00" is not a time of day; use HH:MM from 00:00 to 24:00, e.g. "06:00"',
    ],
    [
      'a day that does not exist',
      [
        {
          id: 'dock',
          severity: 'info',
          condition: { kind: 'absence', event: 'receive', schedule: { days: ['monday'], from: '06:00', to: '14:00' }, every: '1h' },
        },
      ],
      'rules/bad.yaml: rule dock: condition.schedule.days[0]: expected one of "mon", "tue", "wed", "thu", "fri", "sat", "sun", got string "monday"',
    ],
    [
      'an at-risk warning longer than the SLA',
      [{ id: 'sla', severity: 'info', condition: { kind: 'shipment_sla', step: 'released->loaded', within: '4h', at_risk_before: '5h' } }],
      'rules/bad.yaml: rule sla: condition.at_risk_before: must be shorter than within, or the shipment is at risk before the clock starts',
    ],
    [
      'the same id twice in one file',
      [coldRoom, { ...coldRoom, severity: 'info' }],
      'rules/bad.yaml: rule cold-room-warm: id: also used by rules[0] in this file; rule ids must be unique',
    ],
  ])('%s', (_what, rules, error) => {
    expect(errorsFor(packText(...rules))).toEqual([error])
  })

  it('refuses a version it does not know and unknown top-level keys', () => {
    expect(errorsFor('version: 2\nrules: []\nrule: []\n')).toEqual([
      'rules/bad.yaml: version: number 2 is not supported; supported versions: 1',
      'rules/bad.yaml: rule: unknown key; allowed keys: version, rules',
    ])
  })

  it('names the file and line of a YAML syntax error', () => {
    expect(errorsFor('version: 1\nrules:\n  - id: a\n    notify: [mqtt\n')).toEqual([
      expect.stringMatching(/^rules\/bad\.yaml: line \d+, column \d+: YAML syntax error: /),
    ])
    expect(errorsFor('version: 1\nversion: 1\nrules: []\n')).toEqual(['rules/bad.yaml: line 2, column 1: YAML syntax error: Map keys must be unique'])
  })

  it('refuses an empty file with what a pack looks like', () => {
    expect(errorsFor('# nothing yet\n')).toEqual(['rules/bad.yaml: the file is empty; a rule pack is version: 1 and a list of rules:'])
  })

  it('reports every error of every rule at once, in order', () => {
    const text = packText(
      withCondition({ window: { type: 'sliding', size: '10 minutes' }, op: '=>' }),
      { ...coldRoom, id: 'ok-but-late', severity: 'urgent' },
      { id: 'low', severity: 'info', condition: { kind: 'battery_low', below: 20, clear: 10 } },
    )
    expect(errorsFor(text)).toEqual([
      'rules/bad.yaml: rule cold-room-warm: condition.window.size: "10 minutes" is not a duration (use 30s, 10m, 4h, 1d)',
      'rules/bad.yaml: rule cold-room-warm: condition.op: expected one of ">", ">=", "<", "<=", got string "=>"',
      'rules/bad.yaml: rule ok-but-late: severity: expected one of "info", "warning", "critical", got string "urgent"',
      'rules/bad.yaml: rule low: condition.clear: 10 must be above below (20): the alert fires when battery_pct < 20 and clears once battery_pct >= clear (hysteresis); omit clear to clear at 20',
    ])
  })

  it('accepts a good pack and returns it parsed, durations in milliseconds', () => {
    const result = parseRulePack(packText(coldRoom), 'rules/extra.yaml')
    expect(result.ok).toBe(true)
    if (result.ok) expect(result.pack.rules[0]).toMatchObject({ id: 'cold-room-warm', for: 600_000, clear_for: 0, enabled: true })
  })
})

describe('loadRulePacks(dir)', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stockyard-rules-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const write = (name: string, text: string) => writeFileSync(join(dir, name), text)

  it('reads every .yaml and .yml file in name order, and nothing else', () => {
    write('b.yml', packText({ ...coldRoom, id: 'b' }))
    write('a.yaml', packText({ ...coldRoom, id: 'a' }))
    write('notes.txt', 'not a pack')
    write('old.yaml.bak', 'version: [')
    mkdirSync(join(dir, 'sub.yaml'))
    const result = loadRulePacks(dir)
    expect(result.ok ? result.rules.map((r) => r.id) : result.errors).toEqual(['a', 'b'])
  })

  it('refuses the same rule id in two files, naming both', () => {
    write('a.yaml', packText(coldRoom))
    write('b.yaml', packText({ ...coldRoom, severity: 'info' }))
    expect(loadRulePacks(dir)).toEqual({
      ok: false,
      errors: [`${join(dir, 'b.yaml')}: rule cold-room-warm: id: also defined in ${join(dir, 'a.yaml')}; rule ids must be unique across all rule packs`],
    })
  })

  it('reports the errors of every file at once, and no packs', () => {
    write('a.yaml', packText({ ...coldRoom, for: 'ten minutes' }))
    write('b.yaml', 'version: 1\nrules: {}\n')
    write('c.yaml', packText({ ...coldRoom, id: 'fine' }))
    expect(loadRulePacks(dir)).toEqual({
      ok: false,
      errors: [
        `${join(dir, 'a.yaml')}: rule cold-room-warm: for: "ten minutes" is not a duration (use 30s, 10m, 4h, 1d)`,
        `${join(dir, 'b.yaml')}: rules: expected a list, got an object`,
      ],
    })
  })

  it('accepts an empty directory as no rules', () => {
    expect(loadRulePacks(dir)).toEqual({ ok: true, packs: [], rules: [] })
  })

  it('says which directory it could not read', () => {
    const missing = join(dir, 'nope')
    const result = loadRulePacks(missing)
    expect(result.ok ? [] : result.errors).toEqual([expect.stringMatching(new RegExp(`^${missing}: cannot read the rules directory: ENOENT`))])
  })
})
