// History, forecast and its intervals of one SKU (/api/v1/forecast/{sku}): daily demand, the forecast
// mean, and the widest interval as a band.
import { formatNumber, formatTime, h } from '../format.js'
import { axes, css, drawChart } from './chart.js'

const DAY_S = 86_400
const dayStart = (iso) => Date.parse(`${iso}T00:00:00Z`) / 1000

export function render(body, panel, data) {
  const hist = data.history?.values ?? []
  const fc = data.forecast ?? { mean: [], lower: {}, upper: {} }
  const h0 = dayStart(data.history.start)
  const f0 = dayStart(fc.start)
  const first = Math.min(h0, f0)
  const days = Math.max((h0 - first) / DAY_S + hist.length, (f0 - first) / DAY_S + fc.mean.length)
  const xs = Array.from({ length: days }, (_, i) => first + i * DAY_S)
  const col = (start, values) => xs.map((x) => values[(x - start) / DAY_S] ?? null)
  const level = Object.keys(fc.upper ?? {}).sort((a, b) => Number(b) - Number(a))[0]
  const series = [{ value: (u, v) => (v === null ? '–' : formatTime(v * 1000).replace(/,? \d\d:\d\d:\d\d.*/, '')) }]
  const columns = [xs]
  const add = (opts, values) => {
    series.push({ points: { show: false }, value: (u, v) => (v === null ? '–' : formatNumber(v)), ...opts })
    columns.push(values)
  }
  add({ label: 'Demand', stroke: css('--c1'), width: 1.5 }, col(h0, hist))
  add({ label: `Forecast (${data.method})`, stroke: css('--c2'), width: 2, dash: [6, 4] }, col(f0, fc.mean))
  const bands = []
  if (level) {
    add({ label: `Upper ${level}%`, stroke: css('--band'), width: 1 }, col(f0, fc.upper[level]))
    add({ label: `Lower ${level}%`, stroke: css('--band'), width: 1 }, col(f0, fc.lower[level]))
    bands.push({ series: [3, 4], fill: css('--band') })
  }
  drawChart(body, { series, bands, axes: axes(formatNumber), cursor: { drag: { x: false, y: false } } }, columns)
  body.append(h('p', { class: 'caption muted' }, `Fitted ${formatTime(data.at)}${data.note ? ' · ' + data.note : ''}`))
}
