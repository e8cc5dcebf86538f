/** Binds a Hono app to a Node HTTP server and closes it cleanly (keep-alive sockets included). */
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { createAdaptorServer } from '@hono/node-server'
import type { Hono } from 'hono'

/** How long `close()` lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 5_000

export interface HttpServer {
  /** The bound port (useful with port 0). */
  port: number
  close(): Promise<void>
}

export interface HttpServerOptions {
  /** Handles a WebSocket upgrade (Node-RED's editor) and returns true, or false to refuse it. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean
  /** Upgraded sockets still open; destroyed at close (the server does not track them). */
  upgraded?: Set<Duplex>
}

/**
 * Listen on host:port; resolves once listening, rejects on bind errors (EADDRINUSE, EACCES).
 * @example const http = await startHttpServer(createHttpApp(deps), config.host, config.http.port)
 */
export async function startHttpServer(app: Hono, host: string, port: number, opts: HttpServerOptions = {}): Promise<HttpServer> {
  // overrideGlobalObjects: false keeps the process-wide Request/Response untouched.
  const server = createAdaptorServer({ fetch: app.fetch, hostname: host, overrideGlobalObjects: false }) as Server
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!opts.upgrade?.(req, socket, head)) socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
        force.unref()
        server.close((err) => {
          clearTimeout(force)
          if (err) reject(err)
          else resolve()
        })
        server.closeIdleConnections()
        for (const socket of opts.upgraded ?? []) socket.destroy()
      }),
  }
}
