// One number: the answer's `value.field`, or how many rows of the list at `value.count` match
// `where` (dotted fields, equal values), coloured by the highest threshold it reaches.
import { formatNumber, get, h } from '../format.js'

export function valueOf(panel, data) {
  if ('field' in panel.value) return get(data, panel.value.field)
  const list = get(data, panel.value.count)
  if (!Array.isArray(list)) return undefined
  const where = Object.entries(panel.value.where ?? {})
  return list.filter((row) => where.every(([k, v]) => get(row, k) === v)).length
}

export function colorOf(panel, value) {
  let color = panel.base ?? 'green'
  if (typeof value !== 'number') return 'grey'
  for (const t of [...(panel.thresholds ?? [])].sort((a, b) => a.value - b.value)) if (value >= t.value) color = t.color
  return color
}

export function render(body, panel, data) {
  const value = valueOf(panel, data)
  body.replaceChildren(
    h(
      'div',
      { class: `stat color-${colorOf(panel, value)}`, 'data-value': value ?? '' },
      h('span', { class: 'stat-value' }, formatNumber(value)),
      panel.unit ? h('span', { class: 'stat-unit' }, panel.unit) : null,
    ),
  )
}
