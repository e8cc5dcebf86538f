/**
 * A hard cap on MQTT packet size. aedes's parser (mqtt-packet) accepts packets up to the protocol's
 * 256 MiB, buffering them whole, so one client could exhaust memory. Neither library has an option
 * for it, so we wrap the parser's length step: once a fixed header announces a packet larger than
 * the cap, the parser emits an error and aedes closes that connection. Payloads above the contract
 * limit but below this cap are still read and refused with `payload.too_large` on the errors topic.
 */
import type { Client } from 'aedes'

interface LengthParser {
  packet: { length: number }
  _parseLength(): boolean
  emit(event: 'error', err: Error): boolean
}

export function limitPacketSize(client: Client, maxBytes: number): void {
  const parser = (client as unknown as { _parser?: LengthParser })._parser
  if (!parser || typeof parser._parseLength !== 'function') {
    throw new Error('aedes client has no mqtt-packet parser to limit; check the aedes version')
  }
  const parseLength = parser._parseLength.bind(parser)
  parser._parseLength = function limitedParseLength(): boolean {
    const done = parseLength()
    if (done && parser.packet.length > maxBytes) {
      parser.emit('error', new Error(`packet of ${parser.packet.length} bytes exceeds the limit of ${maxBytes}`))
      return false
    }
    return done
  }
}
