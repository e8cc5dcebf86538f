/** MQTT transports: TCP, optional TLS, and WebSocket (path `/mqtt` or any path). Port 0 = ephemeral. */
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import type { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { Config } from '../config/schema.ts'
import { limitPacketSize } from './packet-limit.ts'

export interface Listeners {
  ports: { mqtt: number; ws: number; tls?: number }
  close(): Promise<void>
}

function listen(server: NetServer | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

export async function startListeners(broker: Aedes, config: Readonly<Config>): Promise<Listeners> {
  const host = config.host
  const maxPacket = config.mqtt.maxPacketBytes
  const handle = (stream: Parameters<Aedes['handle']>[0], req?: Parameters<Aedes['handle']>[1]): void => {
    limitPacketSize(broker.handle(stream, req), maxPacket)
  }
  const tcp = createNetServer((socket) => handle(socket))
  const http = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n')
  })
  const wss = new WebSocketServer({ server: http })
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws)
    stream.on('error', () => stream.destroy())
    handle(stream, req)
  })
  const servers: Array<NetServer | HttpServer> = [tcp, http]
  const ports: Listeners['ports'] = { mqtt: await listen(tcp, host, config.mqtt.port), ws: await listen(http, host, config.mqtt.wsPort) }
  const tlsCfg = config.mqtt.tls
  if (tlsCfg) {
    const tls = createTlsServer(
      { cert: readFileSync(tlsCfg.cert), key: readFileSync(tlsCfg.key), ca: tlsCfg.ca ? readFileSync(tlsCfg.ca) : undefined },
      (socket) => handle(socket),
    )
    servers.push(tls)
    ports.tls = await listen(tls, host, tlsCfg.port)
  }
  return {
    ports,
    async close() {
      for (const c of wss.clients) c.terminate()
      wss.close()
      await Promise.all(servers.map(closeServer))
    },
  }
}
