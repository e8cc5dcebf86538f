/**
 * The dashboard definition language: one JSON file per page in `dashboards/` (`overview.json`,
 * `stock.json`, …), validated here as data. A page has a title, variables (zone, SKU, …) and panels on
 * a 12-column grid; each panel names its query in terms of the HTTP API (a GET route and its query
 * parameters, `$variable` placeholders allowed) and what to show of the answer. The built-in UI renders
 * the pages from these files, and `stockyard dashboards export --grafana` turns the series panels into
 * Grafana dashboards; adding a panel to a file adds it to both, with no code change.
 */
import { z } from 'zod'

export const GRID_COLUMNS = 12

const name = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'lowercase letters, digits and -, starting with a letter')
const text = z.string().min(1).max(200)
const color = z.enum(['green', 'yellow', 'orange', 'red', 'blue', 'grey'])

/** A GET route of the API (`/api/v1/series`, `/api/v1/forecast/$sku`) and its query parameters; `$name` is a variable. */
export const QuerySchema = z.strictObject({
  path: z
    .string()
    .regex(/^\/api\/v1\/[A-Za-z0-9/_$.{}-]+$/, 'an API path such as /api/v1/series')
    .max(256),
  params: z.record(z.string().regex(/^[a-z][a-zA-Z0-9_]{0,63}$/), z.string().max(256)).default({}),
})

const gridSchema = z
  .strictObject({
    x: z
      .number()
      .int()
      .min(0)
      .max(GRID_COLUMNS - 1),
    y: z.number().int().min(0).max(1000),
    w: z.number().int().min(1).max(GRID_COLUMNS),
    h: z.number().int().min(1).max(40),
  })
  .refine((g) => g.x + g.w <= GRID_COLUMNS, { message: `x + w must be at most ${GRID_COLUMNS} (the grid's columns)` })

const base = {
  id: name,
  title: text,
  description: z.string().max(1000).optional(),
  grid: gridSchema,
  query: QuerySchema,
}

/** A dotted path into the JSON answer, e.g. `alerts`, `stock.total`, `replication.influx.lanes.points.lagRows`. */
const field = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a dotted field path such as alerts or stock.total')

export const PanelSchema = z.discriminatedUnion('type', [
  /** Series over time (`/api/v1/series`): one line per series. */
  z.strictObject({ ...base, type: z.literal('timeseries'), unit: z.string().max(32).optional() }),
  /** One number: the answer's `field`, or the length of the list at `count`, coloured by thresholds. */
  z.strictObject({
    ...base,
    type: z.literal('stat'),
    value: z.union([
      z.strictObject({ field }),
      z.strictObject({ count: field, where: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])).optional() }),
    ]),
    unit: z.string().max(32).optional(),
    /** Ascending: the colour of the highest threshold the value reaches; below the first, `base`. */
    thresholds: z
      .array(z.strictObject({ value: z.number(), color }))
      .max(10)
      .default([]),
    base: color.default('green'),
  }),
  /** Rows of the list at `rows`, one column per entry. */
  z.strictObject({
    ...base,
    type: z.literal('table'),
    rows: field,
    columns: z
      .array(z.strictObject({ field, title: text, format: z.enum(['text', 'number', 'time', 'duration']).default('text') }))
      .min(1)
      .max(20),
  }),
  /** Alerts from `/api/v1/alerts`, with acknowledge and silence for admins. */
  z.strictObject({ ...base, type: z.literal('alertlist') }),
  /** On hand per SKU from `/api/v1/stock` as bars, with the reorder point as a line. */
  z.strictObject({ ...base, type: z.literal('stockbar') }),
  /** Shipments from `/api/v1/shipments` with each step's time, late ones marked. */
  z.strictObject({ ...base, type: z.literal('timeline') }),
  /** History, forecast and its intervals from `/api/v1/forecast/{sku}`. */
  z.strictObject({ ...base, type: z.literal('forecast') }),
])

export const VariableSchema = z.strictObject({
  name,
  label: text,
  /** Where the choices come from: the distinct values of `field` in the list at `rows` of a GET route. */
  options: z.strictObject({ query: QuerySchema, rows: field, field }),
  /** `*` = all. */
  default: z.string().max(128).default('*'),
})

export const DashboardSchema = z
  .strictObject({
    version: z.literal(1),
    /** The page's id: its URL (`/#/stock`) and file name (`stock.json`). */
    id: name,
    title: text,
    /** Position in the navigation, lowest first. */
    order: z.number().int().min(0).max(1000).default(100),
    variables: z.array(VariableSchema).max(8).default([]),
    panels: z.array(PanelSchema).min(1).max(60),
  })
  .superRefine((d, ctx) => {
    const ids = new Set<string>()
    d.panels.forEach((p, i) => {
      if (ids.has(p.id))
        ctx.addIssue({ code: 'custom', path: ['panels', i, 'id'], message: `${p.id} is used by another panel; panel ids are unique in a page` })
      ids.add(p.id)
    })
    const vars = new Set(d.variables.map((v) => v.name))
    const check = (q: z.output<typeof QuerySchema>, path: PropertyKey[]): void => {
      for (const m of JSON.stringify(q).matchAll(/\$([a-z][a-z0-9-]*)/g)) {
        if (!vars.has(m[1]!)) ctx.addIssue({ code: 'custom', path, message: `$${m[1]} is not a variable of this page; define it under variables` })
      }
    }
    d.panels.forEach((p, i) => check(p.query, ['panels', i, 'query']))
    // Overlapping panels would hide each other.
    for (let i = 0; i < d.panels.length; i++) {
      for (let j = 0; j < i; j++) {
        const a = d.panels[i]!.grid
        const b = d.panels[j]!.grid
        if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
          ctx.addIssue({ code: 'custom', path: ['panels', i, 'grid'], message: `overlaps panel ${d.panels[j]!.id}` })
        }
      }
    }
  })

/** Every panel type, for messages and the renderers' registry. */
export const PANEL_TYPES = PanelSchema.options.map((o) => o.shape.type.value)

export type Dashboard = z.output<typeof DashboardSchema>
export type Panel = z.output<typeof PanelSchema>
export type PanelQuery = z.output<typeof QuerySchema>
