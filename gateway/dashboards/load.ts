/**
 * Loading the dashboard definitions of a directory (`dashboards/*.json`), each validated as a whole
 * and against the HTTP API: every query must name a GET route a viewer may call. All problems are
 * reported at once, each line naming the file, the panel and the field:
 * `dashboards/stock.json: panels[2] (on-hand).query.path: /api/v1/stok matches no GET route of the API`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { formatPath, issueMessage, PARSE_OPTIONS } from '../contracts/issues.ts'
import { DashboardSchema, PANEL_TYPES, QuerySchema, type Dashboard, type PanelQuery } from './schema.ts'

/** What the loader needs of a route: method, OpenAPI-style path and access. */
export interface RouteRef {
  method: string
  path: string
  access: string
}

export type LoadResult = { ok: true; dashboards: Dashboard[] } | { ok: false; errors: string[] }

/** The contract wording, and the panel types named when `type` is missing or unknown. */
const OPTIONS = {
  error: (iss: Parameters<typeof issueMessage>[0]): string | undefined => {
    if (iss.code === 'invalid_union' && iss.note === 'No matching discriminator') {
      const type = (iss.input as { type?: unknown } | undefined)?.type
      return `${type === undefined ? 'missing type' : `unknown panel type ${JSON.stringify(type)}`}; types are ${PANEL_TYPES.join(', ')}`
    }
    return PARSE_OPTIONS.error(iss)
  },
} as const

/** Files that are dashboard definitions: `name.json` directly in the directory. */
const FILE = /^[a-z][a-z0-9-]{0,63}\.json$/

function routeMatchers(routes: readonly RouteRef[]): Array<{ path: string; re: RegExp }> {
  return routes
    .filter((r) => r.method === 'GET' && (r.access === 'viewer' || r.access === 'public'))
    .map((r) => ({ path: r.path, re: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
}

/** The problem with `q`'s path, or undefined when it names a GET route a viewer may call. */
function routeProblem(q: PanelQuery, matchers: ReadonlyArray<{ re: RegExp }>): string | undefined {
  // A variable stands for one path segment.
  const concrete = q.path.replace(/\$[a-z][a-z0-9-]*/g, 'x')
  if (matchers.some((m) => m.re.test(concrete))) return undefined
  return `${q.path} matches no GET route of the API that a viewer may call (see GET /openapi.json)`
}

/** Parse and check one definition; `file` names it in the messages. */
export function parseDashboard(text: string, file: string, routes: readonly RouteRef[]): { ok: true; dashboard: Dashboard } | { ok: false; errors: string[] } {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    return { ok: false, errors: [`${file}: not JSON: ${(err as Error).message}`] }
  }
  const panelName = (path: readonly PropertyKey[]): string => {
    if (path[0] !== 'panels' || typeof path[1] !== 'number') return formatPath(path)
    const id = (raw as { panels?: Array<{ id?: unknown }> })?.panels?.[path[1]]?.id
    const head = typeof id === 'string' ? `panels[${path[1]}] (${id})` : `panels[${path[1]}]`
    const rest = formatPath(path.slice(2))
    return rest === '' ? head : `${head}.${rest.replace(/^\./, '')}`
  }
  const parsed = DashboardSchema.safeParse(raw, OPTIONS)
  const matchers = routeMatchers(routes)
  const errors: string[] = []
  // Routes are checked on every panel whose path parsed, also when other parts of the file did not: every problem at once.
  const rawPanels = (raw as { panels?: unknown } | null)?.panels
  ;(Array.isArray(rawPanels) ? rawPanels : []).forEach((p: { query?: { path?: unknown } } | null, i) => {
    const path = p?.query?.path
    const problem = typeof path === 'string' && QuerySchema.shape.path.safeParse(path).success ? routeProblem({ path, params: {} }, matchers) : undefined
    if (problem) errors.push(`${file}: ${panelName(['panels', i, 'query', 'path'])}: ${problem}`)
  })
  if (!parsed.success)
    return { ok: false, errors: [...parsed.error.issues.map((i) => `${file}: ${panelName(i.path) || 'top level'}: ${i.message}`), ...errors] }
  const d = parsed.data
  d.variables.forEach((v, i) => {
    const problem = routeProblem(v.options.query, matchers)
    if (problem) errors.push(`${file}: variables[${i}].options.query.path: ${problem}`)
  })
  const expected = `${d.id}.json`
  if (!file.endsWith(expected)) errors.push(`${file}: id: ${d.id} must match the file name (${expected})`)
  return errors.length ? { ok: false, errors } : { ok: true, dashboard: d }
}

/**
 * Every definition in `dir`, ordered by `order` then id. A missing directory is no dashboards; a
 * directory holding an invalid file is refused as a whole, with every error.
 * @example const r = loadDashboards('dashboards', ROUTES); if (!r.ok) console.error(r.errors.join('\n'))
 */
export function loadDashboards(dir: string, routes: readonly RouteRef[]): LoadResult {
  if (!existsSync(dir)) return { ok: true, dashboards: [] }
  const errors: string[] = []
  const dashboards: Dashboard[] = []
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue
    const file = join(dir, f)
    if (!FILE.test(f)) {
      errors.push(`${file}: not a dashboard file name; use lowercase letters, digits and -, ending in .json`)
      continue
    }
    const r = parseDashboard(readFileSync(file, 'utf8'), file, routes)
    if (r.ok) dashboards.push(r.dashboard)
    else errors.push(...r.errors)
  }
  if (errors.length) return { ok: false, errors }
  dashboards.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : 1))
  return { ok: true, dashboards }
}
