// On hand per SKU (/api/v1/stock) as bars, with the reorder point as a line; SKUs below it in red.
import { formatNumber, h } from '../format.js'

export function render(body, panel, data) {
  const stock = Array.isArray(data.stock) ? data.stock : []
  if (!stock.length) return body.replaceChildren(h('p', { class: 'panel-msg muted' }, 'No stock recorded yet.'))
  const max = Math.max(1, ...stock.map((s) => Math.max(s.total, (s.policy?.reorder_point ?? 0) * 1.25)))
  const rows = stock.map((s) => {
    const rp = s.policy?.reorder_point
    const below = s.below?.reorderPoint === true
    const bar = h('div', { class: `bar-fill ${below ? 'below' : ''}` })
    bar.style.width = `${(Math.max(0, s.total) / max) * 100}%`
    const track = h('div', { class: 'bar-track' }, bar)
    if (typeof rp === 'number') {
      const line = h('div', { class: 'bar-reorder', title: `reorder point ${rp}` })
      line.style.left = `${(rp / max) * 100}%`
      track.append(line)
    }
    return h(
      'div',
      { class: `bar-row ${below ? 'below' : ''}`, 'data-sku': s.sku },
      h('span', { class: 'bar-label' }, s.sku),
      track,
      h('span', { class: 'bar-value num' }, formatNumber(s.total), typeof rp === 'number' ? h('span', { class: 'muted' }, ` / ${formatNumber(rp)}`) : null),
    )
  })
  body.replaceChildren(h('div', { class: 'scroll bars' }, rows), h('p', { class: 'caption muted' }, 'On hand / reorder point (the line)'))
}
