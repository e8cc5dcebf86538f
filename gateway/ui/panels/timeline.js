// Shipments (/api/v1/shipments) by step: each step's time, exceptions and late ones (ETA passed,
// not delivered) marked.
import { formatTime, h, isoTime } from '../format.js'

const STEPS = ['released', 'picked', 'packed', 'loaded', 'departed', 'delivered']

export function render(body, panel, data) {
  const list = Array.isArray(data.shipments) ? data.shipments : []
  if (!list.length) return body.replaceChildren(h('p', { class: 'panel-msg muted' }, 'No shipments.'))
  const steps = [...STEPS, ...new Set(list.flatMap((s) => Object.keys(s.steps ?? {})).filter((k) => !STEPS.includes(k)))]
  const now = Date.now()
  const head = h(
    'tr',
    {},
    h('th', {}, 'Shipment'),
    h('th', {}, 'Status'),
    steps.map((s) => h('th', {}, s)),
    h('th', {}, 'ETA'),
  )
  const rows = list.map((s) => {
    const late = typeof s.eta === 'number' && s.eta < now && s.status !== 'delivered'
    const flag = s.status === 'exception' ? 'exception' : late ? 'late' : ''
    return h(
      'tr',
      { class: flag, 'data-shipment': s.id },
      h('td', {}, s.id),
      h('td', {}, h('span', { class: `badge ${flag || 'ok'}` }, s.status), late ? h('span', { class: 'badge late' }, 'late') : null),
      steps.map((step) => {
        const t = s.steps?.[step]
        return h('td', { class: t ? 'done' : 'todo', title: t ? isoTime(t) : null }, t ? formatTime(t) : '·')
      }),
      h('td', { title: s.eta ? isoTime(s.eta) : null }, formatTime(s.eta)),
    )
  })
  body.replaceChildren(h('div', { class: 'scroll' }, h('table', { class: 'timeline' }, h('thead', {}, head), h('tbody', {}, rows))))
}
