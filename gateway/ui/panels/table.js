// Rows of the list at `rows`, one column per entry (text, number, time or duration).
import { formatValue, get, h, isoTime } from '../format.js'

/** Rows drawn at most; a longer list says how many more there are. */
const MAX_ROWS = 500

export function render(body, panel, data) {
  const rows = get(data, panel.rows)
  const list = Array.isArray(rows) ? rows : []
  if (!list.length) return body.replaceChildren(h('p', { class: 'panel-msg muted' }, 'Nothing to show.'))
  const head = h(
    'tr',
    {},
    panel.columns.map((c) => h('th', { class: c.format === 'number' ? 'num' : null }, c.title)),
  )
  const lines = list.slice(0, MAX_ROWS).map((row) =>
    h(
      'tr',
      {},
      panel.columns.map((c) => {
        const v = get(row, c.field)
        return h('td', { class: c.format === 'number' ? 'num' : null, title: c.format === 'time' && v ? isoTime(v) : null }, formatValue(v, c.format))
      }),
    ),
  )
  const more = list.length > MAX_ROWS ? h('p', { class: 'muted' }, `…and ${list.length - MAX_ROWS} more`) : null
  body.replaceChildren(h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, head), h('tbody', {}, lines)), more))
}
