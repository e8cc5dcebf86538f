/**
 * Checks Grafana dashboard JSON against Grafana's own published types: each document becomes a typed
 * constant in a virtual TypeScript file (`const d: GrafanaDashboard = <the JSON>`) and the TypeScript
 * compiler type-checks it against the Grafana Foundation SDK's `dashboard.Dashboard`, with the panels'
 * `options` and `fieldConfig.defaults.custom` checked against `timeseries.Options` /
 * `timeseries.FieldConfig` and `stat.Options`. Because the JSON is an object literal, TypeScript's
 * excess-property check refuses unknown keys at every level, and the SDK's enums refuse unknown values
 * (`"displayMode": "lst"`, `"refresh": 7`). Neither the SDK nor `@grafana/schema` has a type for the
 * InfluxDB data source's query, so a target is `common.DataQuery` plus the InfluxDB plugin's fields.
 */
import { join } from 'node:path'
import ts from 'typescript'
import { REPO_ROOT } from './e2e.ts'

const PRELUDE = `
import type * as common from '@grafana/grafana-foundation-sdk/common'
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import type * as stat from '@grafana/grafana-foundation-sdk/stat'
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries'

type Fn = (...args: never[]) => unknown
/** A type as JSON has it: string enums as their values, methods dropped, \`any\` left open. */
type Json<T> = 0 extends 1 & T
  ? unknown
  : T extends string
    ? \`\${T}\`
    : T extends number | boolean | null | undefined
      ? T
      : T extends readonly (infer U)[]
        ? Json<U>[]
        : T extends object
          ? { [K in keyof T as T[K] extends Fn ? never : K]: Json<T[K]> }
          : T
type Ref = Json<common.DataSourceRef>
/** A target of Grafana's InfluxDB data source: InfluxQL (raw) or Flux. */
type InfluxTarget = Omit<Json<common.DataQuery>, 'datasource'> & {
  datasource: Ref
  query: string
  rawQuery?: boolean
  resultFormat?: 'time_series' | 'table'
  alias?: string
}
type PanelOf<Type extends string, Options, Custom> = Omit<Json<dashboard.Panel>, 'type' | 'options' | 'fieldConfig' | 'targets' | 'datasource'> & {
  type: Type
  datasource: Ref
  targets: InfluxTarget[]
  options: Json<Options>
  fieldConfig: {
    defaults: Omit<Json<dashboard.FieldConfig>, 'custom'> & { custom?: Json<Custom> }
    overrides: Json<dashboard.FieldConfigSource['overrides']>
  }
}
type GrafanaPanel = PanelOf<'timeseries', timeseries.Options, timeseries.FieldConfig> | PanelOf<'stat', stat.Options, Record<string, never>>
type GrafanaDashboard = Omit<Json<dashboard.Dashboard>, 'panels'> & { panels: GrafanaPanel[] }
`

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  skipLibCheck: true,
  types: [],
}

/**
 * Type-check each named JSON document as a Grafana dashboard in one compiler run; returns the
 * diagnostics per name (empty = it matches the types).
 * @example const errors = typecheckDashboards({ 'overview.json': text })['overview.json']
 */
export function typecheckDashboards(docs: Readonly<Record<string, string>>): Record<string, string[]> {
  // Under the repo, so `@grafana/grafana-foundation-sdk` resolves from its node_modules.
  const dir = join(REPO_ROOT, 'test', '.grafana-typecheck')
  const files = new Map(
    Object.entries(docs).map(([name, json], i) => [join(dir, `doc${i}.ts`), { name, text: `${PRELUDE}\nexport const d: GrafanaDashboard = ${json}\n` }]),
  )
  const host = ts.createCompilerHost(OPTIONS)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f)
  host.readFile = (f) => files.get(f)?.text ?? readFile.call(host, f)
  host.getSourceFile = (f, lang, ...rest) => {
    const v = files.get(f)
    return v ? ts.createSourceFile(f, v.text, lang, true) : getSourceFile.call(host, f, lang, ...rest)
  }
  const program = ts.createProgram([...files.keys()], OPTIONS, host)
  const out: Record<string, string[]> = {}
  for (const [file, { name }] of files) {
    const source = program.getSourceFile(file)!
    out[name] = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
      const where = d.start === undefined ? '' : `line ${source.getLineAndCharacterOfPosition(d.start).line + 1 - PRELUDE.split('\n').length}: `
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n')
    })
  }
  return out
}
