/**
 * The `stockyard` command. Every command prints JSON on stdout (logs go to stdout as pino JSON for
 * `start`/`demo`); errors print `error <code>: <message>` on stderr and exit 2.
 */
import { hashSecret } from '../auth/secrets.ts'
import { StockyardError } from '../core/errors.ts'
import { parseFlags, printJson } from './args.ts'
import { runDevices } from './devices.ts'
import { runStart } from './start.ts'
import { runTokens } from './tokens.ts'

const USAGE = `usage: stockyard <command> [flags]
  start     [--data DIR] [--config FILE] [--site S] [--host H] [--mqtt-port N] [--ws-port N] [--http-port N]
            [--log-level L] [--allow-anonymous] [--sync-full]
  demo      start with a small simulated warehouse (what npm start runs); same flags as start
  devices   add --id ID --kind KIND --site SITE --zone ZONE | list | disable --id ID | enable --id ID | rotate --id ID
  tokens    add --role viewer|hq|admin [--name N] | import --role R [--name N] (token on stdin) | list | revoke --id ID
  hash-secret --secret=S   print the scrypt hash of an internal client's password, for config
            (write --secret=S: a secret starting with - is otherwise taken for a flag)
  rules     check [--dir DIR]   validate every rule pack in DIR (default rules/); lists every error
  dashboards check [--dir DIR]   validate every dashboard definition in DIR (default dashboards/); lists every error
  dashboards export --grafana OUT_DIR [--dir DIR] [--config FILE]   write Grafana dashboards and provisioning
            for the config's InfluxDB (InfluxQL for influx.protocol v1, Flux for v2)
  flows     export --url URL --token ADMIN_TOKEN [--out FILE] | export [--data DIR | --config FILE] [--out FILE]
            import FILE --url URL --token ADMIN_TOKEN [--replace]   move Node-RED flows between sites (merged by
            tab unless --replace); exports carry no credentials: re-enter them in the editor at the new site
  simulate  [--scenario FILE] [--seed N] [--accelerate N] [--truth FILE] [--check] [--quiet] [--rules DIR]
            [--data DIR] [--mqtt URL --api URL --token T --site S]   play a simulated warehouse through a gateway
            (its own, on simulated time, unless --mqtt) and with --check compare its view with the truth
  simulate  --replay FILE.csv [--accelerate N] [--data DIR] [--rules DIR] [--mqtt URL]   publish a recording
  hq        pull --site NAME=URL [--site …] --token T --into DIR|http://INFLUX [--state DIR] [--resolution 1m,1h,1d]
            [--streams rollups,events,alerts] [--concurrency 4] [--once] [--interval 10s] [--check]
            pull closed windows, events and alert changes of many sites exactly once (upsert by key, highest revision)
  influx    backfill --from TIME --to TIME [--url U] [--database D | --bucket B] [--quiet]
            send the points and events of an event-time range (ISO 8601 or epoch ms) to InfluxDB again
  forecast  --input FILE.csv --horizon H --period P [--method auto|ets|arima|croston|…] [--level 80,95]
            forecast one series (CSV header timestamp,value, oldest first); prints one JSON object
  schemas   [--out DIR]   write the JSON Schema of every message kind (default gateway/contracts/json-schema)
Every command takes --data DIR (default ./data).`

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      await runStart(rest)
      return
    case 'demo': {
      const { runDemo } = await import('../../simulators/demo.ts')
      await runDemo(rest)
      return
    }
    case 'simulate': {
      const { runSimulate } = await import('../../simulators/run.ts')
      await runSimulate(rest)
      return
    }
    case 'devices':
      return runDevices(rest)
    case 'tokens':
      return runTokens(rest)
    case 'hash-secret': {
      const { values } = parseFlags(rest, { secret: { type: 'string' } })
      if (!values.secret) throw new StockyardError('request.invalid', '--secret is required')
      return printJson({ passwordHash: await hashSecret(values.secret) })
    }
    case 'rules': {
      const [sub, ...args] = rest
      const { values } = parseFlags(args, { dir: { type: 'string' } })
      if (sub !== 'check') throw new StockyardError('request.invalid', 'usage: stockyard rules check [--dir DIR]')
      const { loadRulePacks } = await import('../rules/load.ts')
      const result = loadRulePacks(values.dir ?? 'rules')
      if (!result.ok) throw new StockyardError('request.invalid', `rule packs refused:\n  ${result.errors.join('\n  ')}`)
      return printJson({ ok: true, packs: result.packs.length, rules: result.rules.map((r) => r.id) })
    }
    case 'dashboards': {
      const { runDashboards } = await import('./dashboards.ts')
      return runDashboards(rest)
    }
    case 'flows': {
      const { runFlows } = await import('./flows.ts')
      return runFlows(rest)
    }
    case 'hq': {
      const { runHq } = await import('./hq.ts')
      return runHq(rest)
    }
    case 'influx': {
      const { runInflux } = await import('./influx.ts')
      return runInflux(rest)
    }
    case 'forecast': {
      const { runForecast } = await import('./forecast.ts')
      return runForecast(rest)
    }
    case 'schemas': {
      const { values } = parseFlags(rest, { out: { type: 'string' } })
      const { writeJsonSchemas } = await import('../contracts/index.ts')
      const out = values.out ?? new URL('../contracts/json-schema/', import.meta.url).pathname
      return printJson({ written: await writeJsonSchemas(out) })
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE + '\n')
      return
    default:
      throw new StockyardError('request.invalid', `unknown command ${command}\n${USAGE}`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof StockyardError) process.stderr.write(`error ${err.code}: ${err.message}\n`)
  else process.stderr.write(`error internal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(2)
})
