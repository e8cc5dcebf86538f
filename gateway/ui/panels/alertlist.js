// Alerts (/api/v1/alerts): severity, state, summary, labels and times. With an admin session each open
// alert has Acknowledge and Silence (rule + labels, for a chosen time); both send the CSRF header.
import { api } from '../api.js'
import { formatNumber, formatTime, h, isoTime } from '../format.js'

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 }
const NAME = /^[a-z][a-z0-9_]{0,63}$/
const GLOB = /^[A-Za-z0-9._:/#+-]{1,128}$/

/** Matchers that silence exactly this alert: its rule and its labels (those a silence can name). */
export function matchersOf(alert) {
  const m = { rule: alert.rule }
  for (const [k, v] of Object.entries(alert.labels ?? {})) if (k !== 'rule' && NAME.test(k) && GLOB.test(v)) m[k] = v
  return m
}

function stateText(a) {
  if (a.ack) return `${a.state} · acknowledged by ${a.ack.by}`
  return a.state
}

function actions(a, ctx, row) {
  if (ctx.session?.role !== 'admin' || a.state === 'resolved') return null
  const status = h('span', { class: 'action-status', role: 'status' })
  const fail = (err) => {
    status.textContent = err.message
    status.className = 'action-status error'
  }
  const ack = a.ack
    ? null
    : h(
        'button',
        {
          class: 'btn small',
          type: 'button',
          'data-action': 'ack',
          onclick: (e) => {
            e.currentTarget.disabled = true
            api(`/api/v1/alerts/${a.id}/ack`, { method: 'POST' }).then(() => ctx.refresh(), fail)
          },
        },
        'Acknowledge',
      )
  const silence = a.silencedBy
    ? null
    : h(
        'button',
        {
          class: 'btn small',
          type: 'button',
          'data-action': 'silence',
          onclick: () => row.after(silenceForm(a, ctx, row)),
        },
        'Silence…',
      )
  return h('div', { class: 'actions' }, ack, silence, status)
}

function silenceForm(a, ctx, row) {
  const existing = row.nextElementSibling
  if (existing?.classList.contains('silence-row')) return existing
  const duration = h(
    'select',
    { name: 'duration' },
    ['1h', '4h', '12h', '1d', '7d'].map((d) => h('option', { value: d }, d)),
  )
  const comment = h('input', { name: 'comment', type: 'text', maxlength: 1024, placeholder: 'Why (optional)' })
  const status = h('span', { class: 'action-status' })
  const matchers = matchersOf(a)
  const form = h(
    'form',
    { class: 'silence-form' },
    h(
      'span',
      { class: 'muted' },
      'Silence ',
      Object.entries(matchers)
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
      ' for ',
    ),
    duration,
    comment,
    h('button', { class: 'btn small primary', type: 'submit' }, 'Silence'),
    h('button', { class: 'btn small', type: 'button', onclick: () => tr.remove() }, 'Cancel'),
    status,
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const body = { matchers, duration: duration.value, ...(comment.value.trim() && { comment: comment.value.trim() }) }
    api('/api/v1/silences', { method: 'POST', body }).then(
      () => ctx.refresh(),
      (err) => {
        status.textContent = err.message
        status.className = 'action-status error'
      },
    )
  })
  const tr = h('tr', { class: 'silence-row' }, h('td', { colspan: 6 }, form))
  return tr
}

export function render(body, panel, data, ctx) {
  const alerts = (Array.isArray(data.alerts) ? data.alerts : [])
    .slice()
    .sort((x, y) => (SEVERITY_ORDER[x.severity] ?? 9) - (SEVERITY_ORDER[y.severity] ?? 9) || (y.firedAt ?? y.activeSince) - (x.firedAt ?? x.activeSince))
  if (!alerts.length) return body.replaceChildren(h('p', { class: 'panel-msg muted empty-alerts' }, 'No alerts.'))
  const head = h(
    'tr',
    {},
    ['Severity', 'State', 'Alert', 'Labels', 'Since', ''].map((t) => h('th', {}, t)),
  )
  const rows = alerts.map((a) => {
    const since = a.firedAt ?? a.activeSince
    const row = h(
      'tr',
      {
        class: `alert state-${a.state} ${a.ack ? 'acked' : ''} ${a.silencedBy ? 'silenced' : ''}`,
        'data-alert-id': a.id,
        'data-rule': a.rule,
        'data-state': a.state,
      },
      h('td', {}, h('span', { class: `badge sev-${a.severity}` }, a.severity)),
      h('td', { class: 'alert-state' }, stateText(a), a.silencedBy ? h('span', { class: 'badge silenced' }, 'silenced') : null),
      h(
        'td',
        {},
        h('div', { class: 'alert-summary' }, a.annotations?.summary ?? a.rule),
        h('div', { class: 'muted small' }, a.rule, a.value !== null && a.value !== undefined ? ` · value ${formatNumber(a.value)}` : ''),
      ),
      h(
        'td',
        { class: 'labels' },
        Object.entries(a.labels ?? {})
          .filter(([, v]) => v !== '')
          .map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`)),
      ),
      h('td', { title: isoTime(since) }, formatTime(since)),
      h('td', {}),
    )
    row.lastChild.append(actions(a, ctx, row) ?? '')
    return row
  })
  body.replaceChildren(h('div', { class: 'scroll' }, h('table', { class: 'alerts' }, h('thead', {}, head), h('tbody', {}, rows))))
}
