// Series of one metric over time (/api/v1/series): one line per series, gaps left open.
import { formatNumber, formatTime, h } from '../format.js'
import { axes, clearBody, drawChart, palette } from './chart.js'

/** A series' name: its labels other than the metric (device, zone, …). */
const nameOf = (labels) =>
  Object.entries(labels)
    .filter(([k]) => k !== 'metric' && k !== 'site')
    .map(([, v]) => v)
    .join(' · ') || labels.metric

/** Series with different timestamps aligned on the union of their times (seconds), as uPlot wants. */
export function align(series) {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b)
  const index = new Map(times.map((t, i) => [t, i]))
  const columns = series.map((s) => {
    const col = new Array(times.length).fill(null)
    for (const [t, v] of s.points) col[index.get(t)] = v
    return col
  })
  return [times.map((t) => t / 1000), ...columns]
}

export function render(body, panel, data) {
  const series = (data.series ?? []).filter((s) => s.points.length)
  if (!series.length) {
    clearBody(body)
    return body.append(h('p', { class: 'panel-msg muted' }, 'No data in this time range.'))
  }
  const unit = panel.unit ? ` ${panel.unit}` : ''
  const colors = palette()
  drawChart(
    body,
    {
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      series: [
        { value: (u, v) => (v === null ? '–' : formatTime(v * 1000)) },
        ...series.map((s, i) => ({
          label: nameOf(s.labels),
          stroke: colors[i % colors.length],
          width: 1.5,
          points: { show: false },
          value: (u, v) => (v === null ? '–' : formatNumber(v) + unit),
        })),
      ],
      axes: axes((v) => formatNumber(v) + unit),
    },
    align(series),
  )
}
