// The live feed (GET /api/v1/live, server-sent events): alert changes as they commit and `data` ticks
// naming the message kinds committed. The page re-reads only the panels a tick concerns, debounced, so a
// busy site does not become a polling storm.

/** API paths whose answers a committed message kind can change. A kind not listed refreshes `FALLBACK`. */
export const AFFECTS = {
  reading: ['/api/v1/series', '/api/v1/devices'],
  status: ['/api/v1/devices'],
  scan: ['/api/v1/stock', '/api/v1/shipments', '/api/v1/analytics/shipments', '/api/v1/devices'],
  shipment: ['/api/v1/shipments', '/api/v1/analytics/shipments', '/api/v1/devices'],
  alert: ['/api/v1/alerts'],
}
const FALLBACK = ['/api/v1/devices', '/api/v1/status']

/** Whether a panel reading `path` is concerned by a tick of `kinds`. */
export function affected(path, kinds) {
  return kinds.some((k) => (AFFECTS[k] ?? FALLBACK).some((prefix) => path === prefix || path.startsWith(prefix + '/')))
}

/**
 * Open the feed. `onAlert(notice)` at once, `onData(kinds)` at most every `dataDebounceMs` with the
 * kinds gathered since, `onState('on' | 'reconnecting' | 'closed')`. Returns a function that closes it.
 */
export function openLive({ onAlert, onData, onState, dataDebounceMs = 300 }) {
  const es = new EventSource('/api/v1/live')
  let pending = new Set()
  let timer = 0
  es.addEventListener('hello', () => onState('on'))
  es.addEventListener('ping', () => onState('on'))
  es.addEventListener('alert', (e) => onAlert(JSON.parse(e.data)))
  es.addEventListener('data', (e) => {
    for (const k of Object.keys(JSON.parse(e.data).kinds ?? {})) pending.add(k)
    if (timer) return
    timer = setTimeout(() => {
      timer = 0
      const kinds = [...pending]
      pending = new Set()
      onData(kinds)
    }, dataDebounceMs)
  })
  es.onerror = () => onState(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting')
  return () => {
    clearTimeout(timer)
    es.close()
  }
}
