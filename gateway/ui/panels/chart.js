// Shared by the chart panels: a uPlot chart that fills its panel, follows resizes and takes its
// colours from the theme's CSS variables. Times on the x axis are in the browser's time zone.
import uPlot from '/ui/vendor/uplot.esm.js'

/** A theme colour: `css('--text')`. */
export const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

/** The series palette of the current theme. */
export const palette = () => [1, 2, 3, 4, 5, 6].map((i) => css(`--c${i}`))

/** Remove a panel body's chart (if any) and its content. */
export function clearBody(body) {
  body._chart?.destroy()
  body._chart = undefined
  body._ro?.disconnect()
  body._ro = undefined
  body.replaceChildren()
}

/** Axes styled by the theme; `yFormat(v)` labels the y axis. */
export function axes(yFormat = (v) => String(v)) {
  const stroke = css('--muted')
  const grid = { stroke: css('--grid'), width: 1 }
  return [
    { stroke, grid, ticks: grid },
    { stroke, grid, ticks: grid, size: 56, values: (u, vals) => vals.map(yFormat) },
  ]
}

/** Draw `opts`/`data` (uPlot's) in `body`, replacing what was there. */
export function drawChart(body, opts, data) {
  clearBody(body)
  const size = () => ({ width: Math.max(body.clientWidth, 120), height: Math.max(body.clientHeight - 34, 80) })
  const chart = new uPlot({ ...size(), ...opts }, data, body)
  body._chart = chart
  body._ro = new ResizeObserver(() => {
    const s = size()
    if (s.width !== chart.width || s.height !== chart.height) chart.setSize(s)
  })
  body._ro.observe(body)
  return chart
}
