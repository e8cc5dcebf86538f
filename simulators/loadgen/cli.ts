/**
 * Ad-hoc use of the load generator from a shell:
 *   node --import tsx simulators/loadgen/cli.ts --port 1883 --connections 8 --duration 10 [--rate 5000]
 * Without --devices, connection i is device `loadgen-i` with username/password `loadgen-i`/`x`
 * (for brokers that accept anyone). --devices takes a JSON file: [{ "id", "username", "password" }].
 * Prints the LoadResult as JSON.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { runLoadInChild } from './fork.ts'
import type { DeviceIdentity } from './types.ts'

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    site: { type: 'string', default: 'bench' },
    connections: { type: 'string', default: '8' },
    devices: { type: 'string' },
    duration: { type: 'string', default: '10' },
    rate: { type: 'string' },
    window: { type: 'string', default: '100' },
  },
})
if (!values.port) {
  process.stderr.write('usage: cli.ts --port N [--connections 8] [--duration 10] [--rate R] [--window 100] [--site bench] [--devices file.json]\n')
  process.exit(2)
}
const devices: DeviceIdentity[] = values.devices
  ? (JSON.parse(readFileSync(values.devices, 'utf8')) as DeviceIdentity[])
  : Array.from({ length: Number(values.connections) }, (_, i) => ({ id: `loadgen-${i}`, username: `loadgen-${i}`, password: 'x' }))
const result = await runLoadInChild({
  host: values.host,
  port: Number(values.port),
  site: values.site,
  devices,
  mode: values.rate ? { kind: 'rate', msgPerSec: Number(values.rate) } : { kind: 'max' },
  durationMs: Number(values.duration) * 1000,
  window: Number(values.window),
})
process.stdout.write(JSON.stringify(result, null, 2) + '\n')
