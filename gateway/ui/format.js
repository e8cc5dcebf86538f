// Reading answers and showing values: dotted field paths, local times, numbers, durations.

/** The value at a dotted path (`now.daysOfCover`), or undefined. */
export function get(obj, path) {
  let v = obj
  for (const key of path.split('.')) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined
    v = v[key]
  }
  return v
}

/** The browser's time zone: every time on the page is shown in it. */
export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone

const dateTime = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 })

/** Epoch ms (or ISO text) as local time; today's times without the date. */
export function formatTime(value) {
  if (value === null || value === undefined || value === '') return '–'
  const d = new Date(typeof value === 'number' ? value : String(value))
  if (Number.isNaN(d.getTime())) return String(value)
  return d.toDateString() === new Date().toDateString() ? timeOnly.format(d) : dateTime.format(d)
}

/** ISO 8601 of a time, for tooltips. */
export const isoTime = (value) => (typeof value === 'number' ? new Date(value).toISOString() : String(value ?? ''))

export function formatNumber(value) {
  return typeof value === 'number' && Number.isFinite(value) ? number.format(value) : value === null || value === undefined ? '–' : String(value)
}

/** Milliseconds as `2d 3h`, `4h 10m`, `35s`. */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–'
  const s = Math.round(Math.abs(ms) / 1000)
  const parts = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ].filter(([n]) => n > 0)
  return (
    (ms < 0 ? '-' : '') +
    (parts.length
      ? parts
          .slice(0, 2)
          .map(([n, u]) => n + u)
          .join(' ')
      : '0s')
  )
}

/** A table cell: by the column's format; booleans as yes/no, objects as JSON. */
export function formatValue(value, format = 'text') {
  if (format === 'time') return formatTime(value)
  if (format === 'number') return formatNumber(value)
  if (format === 'duration') return formatDuration(value)
  if (value === null || value === undefined) return '–'
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** Create an element: `h('td', { class: 'x', title: 't' }, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') el.className = v
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}
