/**
 * `/red` (Node-RED's editor and admin API) and `/hooks` (the flows' HTTP-in nodes), forwarded to the
 * Node-RED worker's Unix socket once the caller has shown an admin token (bearer, or the dashboards'
 * session cookie). The forwarded request carries the proxy's secret header instead of the caller's
 * token and cookie, so no flow ever sees a gateway token. WebSocket upgrades (the editor's comms) are
 * checked the same way in `nodeRedUpgrade`.
 */
import { request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import type { HttpBindings } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { Hono } from 'hono'
import { parse as parseCookies } from 'hono/utils/cookie'
import { StockyardError } from '../core/errors.ts'
import { HTTP_ADMIN_ROOT, HTTP_NODE_ROOT, type NodeRedState, type NodeRedTarget } from '../nodered/host.ts'
import { RED_TOKEN_HEADER } from '../nodered/protocol.ts'
import { authenticate, authorize, type TokenVerifier } from './auth.ts'

export interface NodeRedDeps {
  /** Where to forward; null while Node-RED starts or restarts (503). */
  target(): NodeRedTarget | null
  /** Running, last start time, restarts (for /api/v1/status). */
  state(): NodeRedState | { running: false }
}

/** Node-RED's editor sends this header with every change; a cross-site form cannot, so it serves as the CSRF proof. */
const EDITOR_HEADERS = ['node-red-api-version']

/** Mount `/red` and `/hooks` on the app: admin only. */
export function mountNodeRed(app: Hono, deps: NodeRedDeps, tokens: TokenVerifier): void {
  const forward = (c: { env: unknown }): Response => {
    const target = deps.target()
    if (!target) throw new StockyardError('nodered.unavailable', 'Node-RED is starting or restarting; try again in a few seconds')
    const { incoming, outgoing } = c.env as HttpBindings
    forwardRequest(incoming, outgoing, target)
    return RESPONSE_ALREADY_SENT
  }
  for (const root of [HTTP_ADMIN_ROOT, HTTP_NODE_ROOT]) {
    app.all(root, authorize('admin', tokens, EDITOR_HEADERS), forward)
    app.all(`${root}/*`, authorize('admin', tokens, EDITOR_HEADERS), forward)
  }
}

/** Headers that are the caller's credentials for the gateway; Node-RED gets the proxy's secret instead. */
function forwardedHeaders(headers: IncomingHttpHeaders, target: NodeRedTarget): IncomingHttpHeaders {
  const out = { ...headers }
  delete out.authorization
  delete out.cookie
  out[RED_TOKEN_HEADER] = target.token
  return out
}

function forwardRequest(incoming: IncomingMessage, outgoing: ServerResponse, target: NodeRedTarget): void {
  const upstream = request(
    { socketPath: target.socketPath, method: incoming.method, path: incoming.url, headers: forwardedHeaders(incoming.headers, target) },
    (res) => {
      outgoing.writeHead(res.statusCode ?? 502, res.statusMessage, res.headers)
      res.pipe(outgoing)
      res.on('error', () => outgoing.destroy())
    },
  )
  upstream.on('error', (err) => {
    if (outgoing.headersSent) {
      outgoing.destroy()
      return
    }
    outgoing.writeHead(503, { 'content-type': 'application/json' })
    outgoing.end(JSON.stringify({ error: { code: 'nodered.unavailable', message: `Node-RED did not answer: ${err.message}` } }))
  })
  outgoing.on('close', () => {
    if (!outgoing.writableFinished) upstream.destroy()
  })
  incoming.pipe(upstream)
}

/**
 * The HTTP server's `upgrade` handler for `/red/…` (the editor's WebSocket): authenticate as for a
 * request (a browser sends the session cookie; its Origin must then be this host), then splice the
 * client's socket to Node-RED's. Returns false for other paths.
 */
export function nodeRedUpgrade(deps: NodeRedDeps, tokens: TokenVerifier, sockets: Set<Duplex>) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    if (!req.url?.startsWith(HTTP_ADMIN_ROOT + '/')) return false
    const refuse = (status: number, reason: string): true => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      return true
    }
    const header = (n: string): string | undefined => {
      const v = req.headers[n]
      return Array.isArray(v) ? v[0] : v
    }
    const cookies = parseCookies(header('cookie') ?? '')
    try {
      authenticate('admin', tokens, { method: 'GET', header, cookie: (n) => cookies[n] })
    } catch (err) {
      return refuse((err as StockyardError).status ?? 401, 'Unauthorized')
    }
    // Cross-site WebSocket hijacking: a page elsewhere could open this socket with the admin's cookie.
    const origin = header('origin')
    if (origin !== undefined && header('authorization') === undefined && originHost(origin) !== header('host')) return refuse(403, 'Forbidden')
    const target = deps.target()
    if (!target) return refuse(503, 'Service Unavailable')
    const upstream = connect(target.socketPath)
    sockets.add(socket)
    const cleanup = (): void => {
      sockets.delete(socket)
      socket.destroy()
      upstream.destroy()
    }
    upstream.on('error', cleanup)
    socket.on('error', cleanup)
    socket.on('close', cleanup)
    upstream.on('close', cleanup)
    upstream.on('connect', () => {
      const headers = forwardedHeaders(req.headers, target)
      let head0 = `${req.method} ${req.url} HTTP/1.1\r\n`
      for (const [k, v] of Object.entries(headers)) {
        for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) head0 += `${k}: ${one}\r\n`
      }
      upstream.write(head0 + '\r\n')
      if (head.length) upstream.write(head)
      socket.pipe(upstream).pipe(socket)
    })
    return true
  }
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host
  } catch {
    return null
  }
}
