/**
 * The `stockyard` command, run as a real child process: every command prints one JSON document on
 * stdout; every refusal prints `error <code>: <message>` on stderr and exits 2; `start` validates
 * its whole configuration before it opens anything and stops cleanly on SIGTERM.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStore } from '../gateway/store/sqlite/index.ts'
import type { Device, DeviceCredentials } from '../gateway/store/types.ts'
import { tempDir } from './helpers/gateway.ts'
import { cliJson, GatewayProcess, runCli } from './helpers/proc-stockyard.ts'
import { REPO_ROOT, runChild } from './helpers/e2e.ts'

let dir: string
beforeAll(() => {
  dir = tempDir('stockyard-cli-')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Check MQTT credentials against the registry in the data dir, as the gateway would. */
async function verify(username: string, password: string) {
  const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
  try {
    return await store.devices.verify(username, password)
  } finally {
    store.close()
  }
}

describe('stockyard devices', () => {
  it('add prints the credentials once as JSON; list shows the device without any secret', async () => {
    const creds = await cliJson<DeviceCredentials>([
      'devices',
      'add',
      '--data',
      dir,
      '--id',
      'scale-07',
      '--kind',
      'scale',
      '--site',
      'dc1',
      '--zone',
      'aisle-3',
    ])
    expect(creds).toEqual({ id: 'scale-07', username: 'scale-07', password: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) })
    expect(await verify('scale-07', creds.password)).toHaveProperty('device')

    const r = await runCli(['devices', 'list', '--data', dir])
    expect(r.code).toBe(0)
    const list = JSON.parse(r.stdout) as Device[]
    expect(list).toEqual([
      expect.objectContaining({ id: 'scale-07', kind: 'scale', site: 'dc1', zone: 'aisle-3', username: 'scale-07', disabled: false, status: 'never' }),
    ])
    expect(r.stdout).not.toContain(creds.password)
    expect(r.stdout).not.toContain('scrypt$')
  })

  it('disable refuses the device, enable lets it back in', async () => {
    const creds = await cliJson<DeviceCredentials>(['devices', 'add', '--data', dir, '--id', 'env-01', '--kind', 'env', '--site', 'dc1', '--zone', 'cold'])
    expect(await cliJson(['devices', 'disable', '--data', dir, '--id', 'env-01'])).toEqual({ id: 'env-01', disabled: true })
    expect(await verify('env-01', creds.password)).toEqual({ refused: 'disabled' })
    const listed = await cliJson<Device[]>(['devices', 'list', '--data', dir])
    expect(listed.find((d) => d.id === 'env-01')?.disabled).toBe(true)

    expect(await cliJson(['devices', 'enable', '--data', dir, '--id', 'env-01'])).toEqual({ id: 'env-01', disabled: false })
    expect(await verify('env-01', creds.password)).toHaveProperty('device')
  })

  it('rotate prints a new password; the old one stops working', async () => {
    const old = await cliJson<DeviceCredentials>(['devices', 'add', '--data', dir, '--id', 'rfid-02', '--kind', 'rfid', '--site', 'dc1', '--zone', 'dock'])
    const fresh = await cliJson<DeviceCredentials>(['devices', 'rotate', '--data', dir, '--id', 'rfid-02'])
    expect(fresh).toEqual({ id: 'rfid-02', username: 'rfid-02', password: expect.any(String) })
    expect(fresh.password).not.toBe(old.password)
    expect(await verify('rfid-02', old.password)).toEqual({ refused: 'bad_password' })
    expect(await verify('rfid-02', fresh.password)).toHaveProperty('device')
  })

  it('refuses a second device with the same id (exit 2, conflict)', async () => {
    await cliJson(['devices', 'add', '--data', dir, '--id', 'dup-1', '--kind', 'env', '--site', 'dc1', '--zone', 'z1'])
    const r = await runCli(['devices', 'add', '--data', dir, '--id', 'dup-1', '--kind', 'env', '--site', 'dc1', '--zone', 'z1'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('error conflict: device dup-1 already exists\n')
    expect(r.stdout).toBe('')
  })

  it('refuses the device id alerts: a device may publish under its id, and stockyard/v1/{site}/alerts/ is the alert topics', async () => {
    const r = await runCli(['devices', 'add', '--data', dir, '--id', 'alerts', '--kind', 'env', '--site', 'dc1', '--zone', 'z1'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe("error request.invalid: device id alerts is reserved: stockyard/v1/{site}/alerts/ carries the gateway's alerts\n")
  })

  it('reports an unknown device as not_found (exit 2)', async () => {
    const r = await runCli(['devices', 'disable', '--data', dir, '--id', 'ghost'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('error not_found: no device ghost\n')
  })
})

describe('stockyard tokens', () => {
  it('add prints the token once; list shows id, role and name only; revoke removes it', async () => {
    const t = await cliJson<{ id: string; token: string; role: string }>(['tokens', 'add', '--data', dir, '--role', 'viewer', '--name', 'grafana'])
    expect(t).toEqual({ id: expect.any(String), token: expect.stringMatching(/^sy_/), role: 'viewer' })

    const r = await runCli(['tokens', 'list', '--data', dir])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toContainEqual({ id: t.id, role: 'viewer', name: 'grafana', createdAt: expect.any(Number) })
    expect(r.stdout).not.toContain(t.token)

    expect(await cliJson(['tokens', 'revoke', '--data', dir, '--id', t.id])).toEqual({ id: t.id, revoked: true })
    const after = await cliJson<Array<{ id: string }>>(['tokens', 'list', '--data', dir])
    expect(after.map((x) => x.id)).not.toContain(t.id)
    const again = await runCli(['tokens', 'revoke', '--data', dir, '--id', t.id])
    expect(again.code).toBe(2)
    expect(again.stderr).toBe(`error not_found: no token ${t.id}\n`)
  })

  it('import takes a token made at another site from stdin, so one HQ token works at many; refuses a bad or repeated one', async () => {
    const other = tempDir('stockyard-cli-other-')
    try {
      const t = await cliJson<{ id: string; token: string }>(['tokens', 'add', '--data', other, '--role', 'hq', '--name', 'hq'])
      const imported = await runChild(
        process.execPath,
        [join(REPO_ROOT, 'bin/stockyard.mjs'), 'tokens', 'import', '--data', dir, '--role', 'hq', '--name', 'hq'],
        {
          stdin: t.token + '\n',
        },
      )
      expect(imported.code).toBe(0)
      expect(JSON.parse(imported.stdout)).toEqual({ id: t.id, role: 'hq' })
      const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
      expect(store.tokens.verify(t.token)).toEqual({ id: t.id, role: 'hq' })
      store.close()
      const again = await runChild(process.execPath, [join(REPO_ROOT, 'bin/stockyard.mjs'), 'tokens', 'import', '--data', dir, '--role', 'hq'], {
        stdin: t.token,
      })
      expect(again.code).toBe(2)
      expect(again.stderr).toMatch(/already here/)
      const bad = await runChild(process.execPath, [join(REPO_ROOT, 'bin/stockyard.mjs'), 'tokens', 'import', '--data', dir, '--role', 'hq'], {
        stdin: 'hunter2',
      })
      expect(bad.code).toBe(2)
      expect(bad.stderr).toMatch(/not a Stockyard token/)
    } finally {
      rmSync(other, { recursive: true, force: true })
    }
  })

  it('refuses an unknown role (exit 2, naming --role)', async () => {
    const r = await runCli(['tokens', 'add', '--data', dir, '--role', 'root'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error request\.invalid: --role must be one of viewer, hq, admin\n$/)
  })
})

describe.concurrent('bad flags exit 2 with `error request.invalid: …` naming the flag', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['devices', 'list', '--data', 'DIR', '--colour', 'red'], /'--colour'/],
    ['an unknown flag of start', ['start', '--data', 'DIR', '--mqtt-prot', '1883'], /'--mqtt-prot'/],
    ['a missing --id', ['devices', 'add', '--data', 'DIR', '--kind', 'env', '--site', 's', '--zone', 'z'], /--id is required/],
    ['a missing --id on disable', ['devices', 'disable', '--data', 'DIR'], /--id is required/],
    [
      'a bad --kind',
      ['devices', 'add', '--data', 'DIR', '--id', 'x1', '--kind', 'toaster', '--site', 's', '--zone', 'z'],
      /--kind must be one of env, scale, scanner, tracker, rfid, other/,
    ],
    ['a port above 65535', ['start', '--data', 'DIR', '--mqtt-port', '70000'], /--mqtt-port must be an integer 0-65535, got 70000/],
    ['a port that is not a number', ['start', '--data', 'DIR', '--http-port', 'eighty'], /--http-port must be an integer 0-65535, got eighty/],
    ['a negative port', ['start', '--data', 'DIR', '--ws-port=-1'], /--ws-port must be an integer 0-65535, got -1/],
    ['an unknown subcommand', ['devices', 'explode', '--data', 'DIR'], /usage: stockyard devices/],
  ]
  for (const [what, args, message] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await runCli(args.map((a) => (a === 'DIR' ? dir : a)))
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^error request\.invalid: /)
      expect(r.stderr).toMatch(message)
      expect(r.stdout).toBe('')
    })
  }
})

describe('stockyard start', () => {
  it('reports every problem of an invalid config file at once, with paths, and exits 2', async () => {
    const config = join(dir, 'bad.yaml')
    writeFileSync(config, 'site: "dc 1!"\nmqtt:\n  port: 70000\n  colour: red\n')
    const r = await runCli(['start', '--data', join(dir, 'never'), '--config', config])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error config\.invalid: invalid configuration:\n/)
    expect(r.stderr).toMatch(/^ {2}site: /m)
    expect(r.stderr).toMatch(/^ {2}mqtt\.port: .*65535/m)
    expect(r.stderr).toMatch(/^ {2}mqtt: .*"colour"/m)
    expect(r.stdout).toBe('')
  })

  it('reports an invalid STOCKYARD_* variable with its config path and exits 2', async () => {
    const r = await runCli(['start', '--data', join(dir, 'never')], { env: { STOCKYARD_INGEST_COMMIT_INTERVAL_MS: '5000' } })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^ {2}ingest\.commitIntervalMs: .*1000/m)
  })

  it('stops on SIGTERM: logs "stockyard stopped" and exits 0', async () => {
    const data = join(dir, 'running')
    const { gw, ready } = await GatewayProcess.start(['--data', data, '--site', 'test', '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0'], {
      lifetimeS: 60,
    })
    try {
      expect(ready.ports.mqtt).toBeGreaterThan(0)
      const health = await fetch(`http://127.0.0.1:${ready.ports.http}/healthz`, { signal: AbortSignal.timeout(5000) })
      expect(health.status).toBe(200)
      const exit = await gw.stop()
      expect(exit).toEqual({ code: 0, signal: null })
      const messages = gw.lines.flatMap((l) => {
        try {
          return [(JSON.parse(l) as { msg: string }).msg]
        } catch {
          return []
        }
      })
      expect(messages.at(-1)).toBe('stockyard stopped')
      expect(messages.indexOf('stockyard ready')).toBeLessThan(messages.indexOf('stockyard stopped'))
    } finally {
      gw.kill9()
    }
  })
})

describe('stockyard rules check', () => {
  it('accepts the shipped rule packs and lists their rule ids', async () => {
    const r = await runCli(['rules', 'check'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).rules).toContain('cold-room-warm')
  })

  it('refuses a bad pack with exit 2 and every error naming file, rule and field', async () => {
    const dir = tempDir('stockyard-rules-')
    writeFileSync(join(dir, 'bad.yaml'), 'version: 1\nrules:\n  - id: x\n    condition: { kind: threshold }\n')
    const r = await runCli(['rules', 'check', '--dir', dir])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${join(dir, 'bad.yaml')}: rule x: condition.metric: missing`)
    expect(r.stderr).toContain('rule x: severity: missing')
    rmSync(dir, { recursive: true, force: true })
  })
})
