/** Merges config file, `STOCKYARD_*` environment and flags, then validates the whole once. */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { StockyardError } from '../core/errors.ts'
import { ConfigSchema, type Config } from './schema.ts'

type Json = Record<string, unknown>

/** `mqtt.maxPayloadBytes` -> `STOCKYARD_MQTT_MAX_PAYLOAD_BYTES`. */
export function envName(path: string[]): string {
  return 'STOCKYARD_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
}

function leafPaths(obj: Json, prefix: string[] = []): string[][] {
  const out: string[][] = []
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...leafPaths(v as Json, [...prefix, k]))
    else out.push([...prefix, k])
  }
  return out
}

function setPath(obj: Json, path: string[], value: unknown): void {
  let cur = obj
  for (const k of path.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== 'object') cur[k] = {}
    cur = cur[k] as Json
  }
  cur[path[path.length - 1]!] = value
}

function getPath(obj: Json, path: string[]): unknown {
  let cur: unknown = obj
  for (const k of path) cur = (cur as Json)[k]
  return cur
}

function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a }
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k]
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev) ? deepMerge(prev as Json, v as Json) : v
  }
  return out
}

/** Environment values are JSON when they parse as JSON (numbers, booleans, arrays), else strings. */
function parseEnvValue(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

/** Every problem in one message, each with its path: `mqtt.port: Too big: expected number to be <=65535`. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
}

export interface LoadOptions {
  file?: string
  env?: Record<string, string | undefined>
  /** Already-structured overrides from CLI flags, e.g. `{ mqtt: { port: 0 } }`. */
  overrides?: Json
  /** Defaults of a command, below the file, environment and flags (the demo turns Node-RED on). */
  defaults?: Json
}

/** Load and validate configuration; throws `config.invalid` listing every problem at once. */
export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  let fromFile: Json = {}
  if (opts.file) {
    let text: string
    try {
      text = readFileSync(opts.file, 'utf8')
    } catch (err) {
      throw new StockyardError('config.invalid', `cannot read config file ${opts.file}: ${(err as Error).message}`)
    }
    try {
      const parsed: unknown = opts.file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
      fromFile = (parsed ?? {}) as Json
    } catch (err) {
      throw new StockyardError('config.invalid', `config file ${opts.file} is not valid YAML/JSON: ${(err as Error).message}`)
    }
  }
  const fromEnv: Json = {}
  const env = opts.env ?? {}
  const defaults = ConfigSchema.parse({}) as unknown as Json
  for (const path of leafPaths(defaults)) {
    const raw = env[envName(path)]
    // A string setting keeps the text as is: STOCKYARD_SITE=42 is the site "42", not the number 42.
    if (raw !== undefined) setPath(fromEnv, path, typeof getPath(defaults, path) === 'string' ? raw : parseEnvValue(raw))
  }
  const merged = deepMerge(deepMerge(deepMerge(opts.defaults ?? {}, fromFile), fromEnv), opts.overrides ?? {})
  const result = ConfigSchema.safeParse(merged)
  if (!result.success) {
    const problems = formatIssues(result.error)
    throw new StockyardError('config.invalid', `invalid configuration:\n  ${problems.join('\n  ')}`, problems)
  }
  return deepFreeze(result.data)
}

function deepFreeze<T>(o: T): Readonly<T> {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}
