// One dashboard page: its variables as selects, its panels on the 12-column grid, and their refresh.
// Panels are rendered by type through the registry in panels/index.js, so a panel added to a
// definition file shows with no code change.
import { ApiError, api, queryUrl } from './api.js'
import { get, h } from './format.js'
import { clearBody } from './panels/chart.js'
import { PANELS } from './panels/index.js'

/** Substitute `$var` in a title. */
const titleOf = (text, vars) => text.replace(/\$([a-z][a-z0-9-]*)/g, (all, name) => (name in vars ? (vars[name] === '*' ? 'all' : vars[name]) : all))

/** Distinct values of a variable's options query, sorted. */
async function optionsOf(variable) {
  const data = await api(queryUrl(variable.options.query, {}))
  const rows = get(data, variable.options.rows)
  const values = new Set()
  for (const row of Array.isArray(rows) ? rows : []) {
    const v = get(row, variable.options.field)
    if (v !== null && v !== undefined && v !== '') values.add(String(v))
  }
  return [...values].sort()
}

export class Page {
  /**
   * @param def the page's definition (from GET /api/v1/dashboards)
   * @param params the variables' values from the URL
   * @param ctx `{ session, onVars(vars), onAuthLost() }`
   */
  constructor(def, params, ctx) {
    this.def = def
    this.ctx = ctx
    this.vars = Object.fromEntries(def.variables.map((v) => [v.name, params[v.name] ?? v.default]))
    this.panels = []
    this.disposed = false
  }

  /** Draw the variables into `varsEl` and the grid into `mainEl`, then load every panel. */
  async mount(varsEl, mainEl) {
    const selects = await Promise.all(this.def.variables.map((v) => this.variableSelect(v)))
    // Another page was opened meanwhile: it owns the screen.
    if (this.disposed) return
    varsEl.replaceChildren(...selects)
    const grid = h('div', { class: 'grid', 'data-page': this.def.id })
    const sorted = [...this.def.panels].sort((a, b) => a.grid.y - b.grid.y || a.grid.x - b.grid.x)
    for (const def of sorted) {
      const body = h('div', { class: 'panel-body' })
      const el = h(
        'section',
        { class: `panel panel-${def.type}`, 'data-panel-id': def.id, 'data-panel-type': def.type },
        h('h2', {}, titleOf(def.title, this.vars)),
        body,
      )
      if (def.description) el.title = def.description
      const { x, y, w, h: rows } = def.grid
      el.style.setProperty('--col', `${x + 1} / span ${w}`)
      el.style.setProperty('--row', `${y + 1} / span ${rows}`)
      el.style.setProperty('--ncol', `span ${w >= 6 ? 2 : 1}`)
      el.style.setProperty('--h', `span ${rows}`)
      grid.append(el)
      this.panels.push({ def, el, body, path: '', data: undefined, seq: 0 })
    }
    mainEl.replaceChildren(grid)
    await this.refresh(this.panels)
  }

  async variableSelect(variable) {
    const current = this.vars[variable.name]
    const select = h('select', { id: `var-${variable.name}`, name: variable.name })
    let values = []
    try {
      values = await optionsOf(variable)
    } catch (err) {
      select.title = `choices unavailable: ${err.message}`
    }
    const inPath = this.def.panels.some((p) => p.query.path.includes('$' + variable.name))
    if (!inPath || current === '*') select.append(h('option', { value: '*' }, 'All'))
    if (current !== '*' && !values.includes(current)) values.unshift(current)
    for (const v of values) select.append(h('option', { value: v }, v))
    select.value = current
    select.addEventListener('change', () => this.ctx.onVars({ ...this.vars, [variable.name]: select.value }))
    return h('label', { class: 'var' }, variable.label + ' ', select)
  }

  /** Re-read and redraw `panels` (default all); identical queries are fetched once. */
  async refresh(panels = this.panels) {
    const now = Date.now()
    const fetches = new Map()
    await Promise.all(
      panels.map(async (p) => {
        const url = queryUrl(p.def.query, this.vars, now)
        const seq = ++p.seq
        if (url === null) return this.message(p, 'Choose a value for this page’s variables above.', 'muted')
        p.path = url.split('?')[0]
        if (!fetches.has(url)) fetches.set(url, api(url))
        try {
          const data = await fetches.get(url)
          if (seq !== p.seq) return
          p.data = data
          this.draw(p)
        } catch (err) {
          if (seq !== p.seq) return
          if (err instanceof ApiError && err.status === 401) return this.ctx.onAuthLost()
          this.message(p, err.message, err instanceof ApiError && err.status === 404 ? 'muted' : 'error')
        }
      }),
    )
  }

  /** Redraw every panel from the data it has (a theme change). */
  redraw() {
    for (const p of this.panels) if (p.data !== undefined) this.draw(p)
  }

  draw(p) {
    const renderer = PANELS[p.def.type]
    if (!renderer) return this.message(p, `No renderer for panel type ${p.def.type}.`, 'error')
    try {
      renderer.render(p.body, p.def, p.data, { session: this.ctx.session, refresh: () => this.refresh() })
      p.el.classList.remove('has-error')
    } catch (err) {
      console.error(`panel ${p.def.id} (${p.def.type}) failed to render`, err)
      this.message(p, `Could not draw this panel: ${err.message}`, 'error')
    }
  }

  message(p, text, kind) {
    clearBody(p.body)
    p.el.classList.toggle('has-error', kind === 'error')
    p.body.append(h('p', { class: `panel-msg ${kind}` }, text))
  }

  /** Panels whose query path satisfies `test`. */
  panelsWhere(test) {
    return this.panels.filter((p) => p.path && test(p.path, p.def))
  }

  dispose() {
    this.disposed = true
    for (const p of this.panels) clearBody(p.body)
    this.panels = []
  }
}
