/**
 * Configuration is validated once, completely, at boot (house style §4): file (YAML or JSON), then
 * `STOCKYARD_*` environment, then CLI flags, merged and checked by one schema that reports every
 * problem at once with its path. The result is frozen.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StockyardError } from '../gateway/core/errors.ts'
import { envName, loadConfig, type LoadOptions } from '../gateway/config/load.ts'
import { ConfigSchema } from '../gateway/config/schema.ts'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stockyard-config-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** The `config.invalid` error loadConfig throws, or a failure if it does not throw one. */
function refusal(opts: LoadOptions): StockyardError {
  try {
    loadConfig(opts)
  } catch (err) {
    expect(err).toBeInstanceOf(StockyardError)
    expect((err as StockyardError).code).toBe('config.invalid')
    return err as StockyardError
  }
  throw new Error('expected loadConfig to refuse the configuration')
}

const YAML = `
site: dc-east
mqtt:
  port: 1900
  wsPort: 9001
ingest:
  commitIntervalMs: 10
store:
  retention:
    rawDays: 30
`

describe('loadConfig sources', () => {
  it('gives the documented defaults when nothing is set', () => {
    const c = loadConfig()
    expect(c).toEqual(ConfigSchema.parse({}))
    expect(c.mqtt.port).toBe(1883)
    expect(c.host).toBe('127.0.0.1')
    expect(c.store.synchronous).toBe('NORMAL')
  })

  it('reads a YAML file and keeps defaults for what it does not set', () => {
    const c = loadConfig({ file: file('gw.yaml', YAML) })
    expect(c.site).toBe('dc-east')
    expect(c.mqtt).toMatchObject({ port: 1900, wsPort: 9001, allowAnonymous: false })
    expect(c.ingest.commitIntervalMs).toBe(10)
    expect(c.ingest.maxBatch).toBe(4000)
    expect(c.store.retention).toMatchObject({ rawDays: 30, minuteDays: 180 })
  })

  it('reads a JSON file the same way', () => {
    const json = { site: 'dc-east', mqtt: { port: 1900, wsPort: 9001 }, ingest: { commitIntervalMs: 10 }, store: { retention: { rawDays: 30 } } }
    expect(loadConfig({ file: file('gw.json', JSON.stringify(json)) })).toEqual(loadConfig({ file: file('same.yaml', YAML) }))
  })

  it('treats an empty file as no settings', () => {
    expect(loadConfig({ file: file('empty.yaml', '') })).toEqual(loadConfig())
  })

  it('reads STOCKYARD_* variables named after the config path', () => {
    expect(envName(['mqtt', 'port'])).toBe('STOCKYARD_MQTT_PORT')
    expect(envName(['ingest', 'commitIntervalMs'])).toBe('STOCKYARD_INGEST_COMMIT_INTERVAL_MS')
    const c = loadConfig({
      env: {
        STOCKYARD_MQTT_PORT: '1884',
        STOCKYARD_INGEST_COMMIT_INTERVAL_MS: '25',
        STOCKYARD_MQTT_ALLOW_ANONYMOUS: 'true',
        STOCKYARD_STORE_SYNCHRONOUS: 'FULL',
        STOCKYARD_STORE_RETENTION_RAW_DAYS: '7',
        STOCKYARD_LOG_LEVEL: 'debug',
        PATH: '/usr/bin',
        STOCKYARD_NOT_A_SETTING: 'ignored',
      },
    })
    expect(c.mqtt.port).toBe(1884)
    expect(c.ingest.commitIntervalMs).toBe(25)
    expect(c.mqtt.allowAnonymous).toBe(true)
    expect(c.store.synchronous).toBe('FULL')
    expect(c.store.retention.rawDays).toBe(7)
    expect(c.log.level).toBe('debug')
  })

  it('keeps a string setting as text even when it looks like a number (STOCKYARD_SITE=42)', () => {
    const c = loadConfig({ env: { STOCKYARD_SITE: '42', STOCKYARD_DATA_DIR: '2024', STOCKYARD_HOST: 'null' } })
    expect(c.site).toBe('42')
    expect(c.dataDir).toBe('2024')
    expect(c.host).toBe('null')
  })

  it('reads structured settings from the environment as JSON', () => {
    const clients = [{ username: 'rules', passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA', publish: ['stockyard/v1/+/+/alerts'] }]
    const c = loadConfig({ env: { STOCKYARD_MQTT_INTERNAL_CLIENTS: JSON.stringify(clients) } })
    expect(c.mqtt.internalClients).toEqual([{ ...clients[0], subscribe: [] }])
  })
})

describe('loadConfig precedence: file < environment < flags', () => {
  const env = { STOCKYARD_MQTT_PORT: '1884', STOCKYARD_INGEST_COMMIT_INTERVAL_MS: '20' }

  it('environment overrides the file', () => {
    const c = loadConfig({ file: file('p1.yaml', YAML), env })
    expect(c.mqtt.port).toBe(1884)
    expect(c.ingest.commitIntervalMs).toBe(20)
    expect(c.site).toBe('dc-east')
  })

  it('flags override the environment and the file', () => {
    const c = loadConfig({ file: file('p2.yaml', YAML), env, overrides: { mqtt: { port: 1885 }, site: 'dc-west' } })
    expect(c.mqtt.port).toBe(1885)
    expect(c.site).toBe('dc-west')
    expect(c.ingest.commitIntervalMs).toBe(20)
  })

  it('merges nested sections instead of replacing them', () => {
    const c = loadConfig({ file: file('p3.yaml', YAML), env: { STOCKYARD_STORE_RETENTION_HOUR_DAYS: '400' }, overrides: { mqtt: { port: 0 } } })
    expect(c.mqtt).toMatchObject({ port: 0, wsPort: 9001 })
    expect(c.store.retention).toMatchObject({ rawDays: 30, hourDays: 400, minuteDays: 180 })
  })
})

describe('loadConfig validation', () => {
  it('refuses unknown keys, naming where they are', () => {
    const err = refusal({ file: file('unknown.yaml', 'mqtt:\n  prot: 1883\nsitee: x\nstore:\n  retention:\n    rawdays: 3\n') })
    expect(err.message).toMatch(/^\s*mqtt: .*"prot"/m)
    expect(err.message).toMatch(/^\s*\(root\): .*"sitee"/m)
    expect(err.message).toMatch(/^\s*store\.retention: .*"rawdays"/m)
  })

  it('reports every problem at once, each with its path', () => {
    const err = refusal({
      file: file('bad.yaml', 'site: "bad site!"\nmqtt:\n  port: 70000\ningest:\n  commitIntervalMs: -1\n'),
      env: { STOCKYARD_STORE_SYNCHRONOUS: 'SOMETIMES' },
      overrides: { http: { port: 1.5 } },
    })
    const problems = err.details as string[]
    expect(problems.map((p) => p.slice(0, p.indexOf(':'))).sort()).toEqual(['http.port', 'ingest.commitIntervalMs', 'mqtt.port', 'site', 'store.synchronous'])
    for (const p of problems) expect(err.message).toContain(p)
    expect(err.message).toMatch(/^invalid configuration:\n/)
  })

  it('refuses an environment value of the wrong type, naming the setting', () => {
    const err = refusal({ env: { STOCKYARD_MQTT_PORT: 'eighteen' } })
    expect(err.details).toEqual([expect.stringMatching(/^mqtt\.port: .*number/)])
  })

  it('checks settings against each other (maxPacketBytes must exceed maxPayloadBytes)', () => {
    const err = refusal({ overrides: { mqtt: { maxPayloadBytes: 65536, maxPacketBytes: 65536 } } })
    expect(err.details).toEqual([expect.stringMatching(/^mqtt\.maxPacketBytes: /)])
  })

  it('refuses a missing file and a file that is not YAML or JSON, naming the file', () => {
    expect(refusal({ file: join(dir, 'missing.yaml') }).message).toContain('missing.yaml')
    expect(refusal({ file: file('broken.json', '{"site": ') }).message).toMatch(/broken\.json is not valid YAML\/JSON/)
    expect(refusal({ file: file('broken.yaml', 'mqtt: [1,\n') }).message).toMatch(/broken\.yaml is not valid YAML\/JSON/)
  })
})

describe('loadConfig result', () => {
  it('is frozen all the way down', () => {
    const c = loadConfig({ file: file('frozen.yaml', YAML) })
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.mqtt)).toBe(true)
    expect(Object.isFrozen(c.mqtt.internalClients)).toBe(true)
    expect(Object.isFrozen(c.store.retention)).toBe(true)
    expect(() => {
      ;(c.mqtt as { port: number }).port = 1
    }).toThrow(TypeError)
    expect(c.mqtt.port).toBe(1900)
  })

  it('does not change the overrides it was given', () => {
    const overrides = { mqtt: { port: 1885 } }
    loadConfig({ overrides })
    expect(overrides).toEqual({ mqtt: { port: 1885 } })
    expect(Object.isFrozen(overrides.mqtt)).toBe(false)
  })
})
