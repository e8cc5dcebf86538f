'use strict'
/**
 * stockyard query: GET a path of the gateway's HTTP API (STOCKYARD_API_URL) with its viewer token
 * (STOCKYARD_API_TOKEN). msg.path overrides the configured path, msg.query adds query parameters.
 * Sends msg.payload = the parsed JSON and msg.statusCode; a non-2xx answer or a network error is
 * reported with the message (so a catch node sees it) and nothing is sent.
 */

module.exports = function (RED) {
  function StockyardQuery(config) {
    RED.nodes.createNode(this, config)
    const node = this
    const timeoutMs = Math.max(1, Number(config.timeout) || 10) * 1000

    node.on('input', (msg, send, done) => {
      query(msg).then(
        (res) => {
          msg.payload = res.body
          msg.statusCode = res.status
          node.status({ fill: 'green', shape: 'dot', text: String(res.status) })
          send(msg)
          done()
        },
        (err) => {
          node.status({ fill: 'red', shape: 'ring', text: err.status ? String(err.status) : 'failed' })
          if (err.status) msg.statusCode = err.status
          done(err)
        },
      )
    })

    async function query(msg) {
      const base = process.env.STOCKYARD_API_URL
      if (!base) throw new Error('STOCKYARD_API_URL is not set; the gateway sets it for its Node-RED')
      const path = typeof msg.path === 'string' && msg.path !== '' ? msg.path : config.path
      // A path, never a URL: the token goes to the gateway only.
      if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) {
        throw new Error(`path ${JSON.stringify(path)} must start with / (a path of the gateway's API, e.g. /api/v1/alerts)`)
      }
      const url = new URL(path, base)
      if (msg.query && typeof msg.query === 'object') {
        for (const [k, v] of Object.entries(msg.query)) if (v !== undefined && v !== null) url.searchParams.set(k, String(v))
      }
      const headers = { accept: 'application/json' }
      if (process.env.STOCKYARD_API_TOKEN) headers.authorization = `Bearer ${process.env.STOCKYARD_API_TOKEN}`
      let res
      try {
        res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) })
      } catch (err) {
        throw new Error(
          `GET ${url.pathname}${url.search}: ${err.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (err.cause?.message ?? err.message)}`,
        )
      }
      const text = await res.text()
      let body = text
      try {
        body = text === '' ? null : JSON.parse(text)
      } catch {
        // Not JSON: passed on as text.
      }
      if (!res.ok) {
        const reason = body && typeof body === 'object' && body.error ? `${body.error.code}: ${body.error.message}` : text.slice(0, 200)
        const err = new Error(`GET ${url.pathname}${url.search}: ${res.status} ${reason}`)
        err.status = res.status
        throw err
      }
      return { status: res.status, body }
    }
  }
  RED.nodes.registerType('stockyard-query', StockyardQuery)
}
