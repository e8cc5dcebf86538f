/**
 * A bare aedes 1.2 broker for the bench baseline: in-memory persistence, every client accepted,
 * every publish authorised, TCP_NODELAY on. Prints `{"port":N}` on stdout once listening on 127.0.0.1.
 * Stops by itself on SIGTERM/SIGINT, when its stdin closes (the bench went away), or after
 * `--max-lifetime-ms` (default 30 min).
 *   node --import tsx test/bench/bare-aedes.ts [--port 0] [--max-lifetime-ms 1800000]
 */
import net from 'node:net'
import { parseArgs } from 'node:util'
import { Aedes } from 'aedes'

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, 'max-lifetime-ms': { type: 'string', default: '1800000' } } })

const broker = await Aedes.createBroker()
broker.authenticate = (_client, _username, _password, done) => done(null, true)
// TCP_NODELAY: a PUBACK leaves at once instead of waiting (Nagle) for the client's ACK of the
// previous segment; the bench measures the broker, not the interplay with delayed ACKs.
const server = net.createServer({ noDelay: true }, broker.handle)

let stopping = false
function stop(code: number): void {
  if (stopping) return
  stopping = true
  setTimeout(() => process.exit(code), 2000).unref()
  server.close()
  broker.close(() => process.exit(code))
}

process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.stdin
  .on('end', () => stop(0))
  .on('error', () => stop(0))
  .resume()
setTimeout(() => stop(0), Number(values['max-lifetime-ms'])).unref()

server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address() as net.AddressInfo
  process.stdout.write(JSON.stringify({ port: address.port }) + '\n')
})
