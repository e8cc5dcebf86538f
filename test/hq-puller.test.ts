/**
 * The reference HQ puller (`stockyard hq pull`, gateway/hq/puller.ts) against real gateways, run as a
 * child process exactly as HQ would run it.
 *
 * - Exactly once: ~100k readings through MQTT into a gateway whose windows close at once
 *   (`hq.allowedLatenessMs: 0`), the puller SIGKILLed at random points and restarted, late readings
 *   for windows it already has published in between. The NDJSON files, upserted by key keeping the
 *   highest revision, equal the gateway's own closed windows, read from its SQLite file.
 * - Multi-site: three `stockyard start` processes pulled by one puller, into files and into InfluxDB.
 * - Security: a viewer token, a tampered cursor, another site's cursor, a mislabelled site.
 * - The contract's edges against a scripted gateway: a cut stream resumes from its last checkpoint, a
 *   410 stops its stream without starting over.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStore } from '../gateway/store/sqlite/index.ts'
import type { DeviceCredentials } from '../gateway/store/types.ts'
import { publishAll } from './helpers/e2e.ts'
import { connectDevice, startTestGateway, tempDir, topicOf, type TestGateway } from './helpers/gateway.ts'
import { Random } from '../simulators/random.ts'
import { requireBinary, startInfluxd, type Influxd } from './helpers/influxd.ts'
import { BIN, GatewayProcess, REPO } from './helpers/proc-stockyard.ts'

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const SIZE = { '1m': MINUTE, '1h': HOUR, '1d': DAY } as const
type Res = keyof typeof SIZE
/** Yesterday, 00:00 UTC: every window of the test data (1m, 1h and 1d) has closed before the test starts. */
const DAY0 = Math.floor(Date.now() / DAY) * DAY - DAY

// --- the puller as a child process ---

interface Run {
  child: ChildProcess
  /** stderr lines so far (progress, notices, errors). */
  lines: string[]
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
}

const children = new Set<ChildProcess>()

function startPuller(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, 'hq', 'pull', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const lines: string[] = []
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
    lines.splice(0, lines.length, ...stderr.split('\n').filter(Boolean))
  })
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child)
      resolve({ code, signal, stdout, stderr })
    }),
  )
  return { child, lines, done }
}

/** Run the puller to its end (killed after `timeoutMs`). */
async function pull(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string; json: Record<string, unknown> }> {
  const run = startPuller(args)
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs)
  const r = await run.done
  clearTimeout(timer)
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>
  } catch {
    // a refusal prints nothing on stdout
  }
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, json }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// --- what HQ holds, and what the gateway holds ---

interface Win {
  count: number
  sum: number
  min: number
  max: number
  last?: number
  revision?: number
}
interface WindowRow extends Win {
  site: string
  metric: string
  labels: { zone: string; device: string; sku: string }
  resolution: Res
  start: number
  revision: number
}

const keyOf = (metric: string, zone: string, device: string, sku: string, start: number): string => `${metric}|${zone}|${device}|${sku}|${start}`

function fileLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

/** A stream file upserted by window key, keeping the highest revision; also every revision seen per key. */
function upsert(file: string): { latest: Map<string, WindowRow>; revisions: Map<string, WindowRow[]>; lines: number } {
  const latest = new Map<string, WindowRow>()
  const revisions = new Map<string, WindowRow[]>()
  const lines = fileLines(file)
  for (const line of lines) {
    const r = JSON.parse(line) as WindowRow
    const k = keyOf(r.metric, r.labels.zone, r.labels.device, r.labels.sku, r.start)
    const had = latest.get(k)
    if (!had || r.revision >= had.revision) latest.set(k, r)
    revisions.set(k, [...(revisions.get(k) ?? []), r])
  }
  return { latest, revisions, lines: lines.length }
}

/** The gateway's own closed windows of `res`, read from its SQLite file (read-only). */
function gatewayWindows(dbFile: string, res: Res, latenessMs: number): Map<string, Win> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true })
  try {
    const now = Date.now()
    type R = { metric: string; zone: string; device: string; sku: string; start: number } & Win
    const rows =
      res === '1d'
        ? (db
            .prepare(
              `SELECT s.metric, s.zone, s.device, s.sku, r.bucket - r.bucket % ${DAY} AS start, sum(r.count) AS count, sum(r.sum) AS sum,
                 min(r.min) AS min, max(r.max) AS max
               FROM rollup_1h r JOIN series s ON s.id = r.series_id GROUP BY r.series_id, start HAVING start + ${DAY} + ? <= ?`,
            )
            .all(latenessMs, now) as R[])
        : (db
            .prepare(
              `SELECT s.metric, s.zone, s.device, s.sku, r.bucket AS start, r.count, r.sum, r.min, r.max, r.last
               FROM rollup_${res} r JOIN series s ON s.id = r.series_id WHERE r.bucket + ${SIZE[res]} + ? <= ?`,
            )
            .all(latenessMs, now) as R[])
    return new Map(rows.map((r) => [keyOf(r.metric, r.zone, r.device, r.sku, r.start), { count: r.count, sum: r.sum, min: r.min, max: r.max, last: r.last }]))
  } finally {
    db.close()
  }
}

/** Differences between HQ's upserted windows and the gateway's (at most 10 shown), and the sizes. */
function diff(hq: Map<string, WindowRow>, gw: Map<string, Win>, res: Res): { hq: number; gateway: number; differences: string[] } {
  const out: string[] = []
  for (const [k, g] of gw) {
    const h = hq.get(k)
    const mine = h && { count: h.count, sum: h.sum, min: h.min, max: h.max, ...(res !== '1d' && { last: h.last }) }
    const theirs = { count: g.count, sum: g.sum, min: g.min, max: g.max, ...(res !== '1d' && { last: g.last }) }
    if (JSON.stringify(mine) !== JSON.stringify(theirs)) out.push(`${k}: hq ${JSON.stringify(mine)} gateway ${JSON.stringify(theirs)}`)
  }
  for (const k of hq.keys()) if (!gw.has(k)) out.push(`${k}: at HQ only`)
  return { hq: hq.size, gateway: gw.size, differences: out.slice(0, 10) }
}

/** The gateway's totals per resolution (closed windows), as `--check` prints HQ's. */
function gatewayTotals(dbFile: string): Record<Res, { windows: number; count: number; sum: number }> {
  const out = {} as Record<Res, { windows: number; count: number; sum: number }>
  for (const res of ['1m', '1h', '1d'] as const) {
    const w = [...gatewayWindows(dbFile, res, 0).values()]
    out[res] = { windows: w.length, count: w.reduce((a, x) => a + x.count, 0), sum: w.reduce((a, x) => a + x.sum, 0) }
  }
  return out
}

function countRows(dbFile: string, sql: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).pluck().get() as number
  } finally {
    db.close()
  }
}

/** `n` readings per device, batched 100 a message, spread over `hours` from `from`; values are binary fractions, so sums are exact. */
function readings(site: string, deviceId: string, d: number, n: number, from: number, hours: number): Array<{ topic: string; payload: string }> {
  const out: Array<{ topic: string; payload: string }> = []
  for (let b = 0; b < n; b += 100) {
    const batch = []
    for (let k = b; k < Math.min(n, b + 100); k++) {
      const ts = from + Math.floor((k * hours * HOUR) / n) + d * 7
      batch.push({ ts, metrics: { temperature_c: ((k * 7 + d) % 40) / 2, humidity_pct: ((k + d) % 13) + 0.25 } })
    }
    out.push({ topic: topicOf(site, deviceId, 'reading'), payload: JSON.stringify({ v: 1, readings: batch }) })
  }
  return out
}

afterAll(() => {
  for (const c of children) c.kill('SIGKILL')
})

describe('exactly once under SIGKILL', () => {
  const DEVICES = 25
  const PER_DEVICE = 4000
  const KILLS = 6
  const SEED = Number(process.env.HQ_PULL_SEED ?? Date.now() % 100_000)
  let gw: TestGateway
  let out: string
  const clients: MqttClient[] = []

  beforeAll(async () => {
    gw = await startTestGateway({ hq: { allowedLatenessMs: 0 } })
    out = tempDir('stockyard-hq-pull-')
    await Promise.all(
      Array.from({ length: DEVICES }, async (_, d) => {
        const c = await gw.addDevice(`dev-${d}`, { zone: `z${d % 3}` })
        const client = await connectDevice(gw.ports.mqtt, c)
        clients[d] = client
        // 12 hours of yesterday: 720 one-minute windows per series.
        await publishAll(client, readings(gw.config.site, c.id, d, PER_DEVICE, DAY0 + 6 * HOUR, 12), 16, 60_000)
      }),
    )
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync()))
    await gw?.dispose()
    rmSync(out, { recursive: true, force: true })
  })

  it('leaves HQ with exactly the gateway closed windows, late corrections applied once', async () => {
    // Seeded (the simulator's generator), so a failing kill schedule can be replayed.
    const rng = new Random(SEED)
    const random = (): number => rng.next()
    const args = ['--site', `${gw.config.site}=${gw.url('')}`, '--token', gw.token('hq'), '--into', out, '--once']
    const file1m = join(out, gw.config.site, 'rollups-1m.ndjson')
    /** Late windows: key -> the last late value published into it. */
    const late = new Map<string, number>()
    const killedAt: string[] = []
    let round = 0
    for (let attempt = 0; killedAt.length < KILLS && attempt < 30; attempt++) {
      const run = startPuller(args)
      // Half the kills at a random time since spawn (start-up, any stream, a cursor save), half just after a
      // random progress line (rows appended, the next checkpoint not yet saved).
      const byLine = attempt % 2 === 0
      const wantLine = 1 + Math.floor(random() * 3)
      const afterMs = byLine ? Math.floor(random() * 40) : 300 + Math.floor(random() * 1200)
      const trigger = byLine
        ? new Promise<void>((resolve) => {
            const poll = setInterval(() => {
              if (run.lines.filter((l) => l.includes(' rows (')).length >= wantLine) {
                clearInterval(poll)
                resolve()
              }
            }, 2)
            void run.done.then(() => clearInterval(poll))
          })
        : Promise.resolve()
      await Promise.race([trigger.then(() => sleep(afterMs)), run.done])
      run.child.kill('SIGKILL')
      const end = await run.done
      if (end.signal !== 'SIGKILL') continue // it finished first: not a kill
      killedAt.push(`${byLine ? `line ${wantLine}+` : ''}${afterMs}ms: ${fileLines(file1m).length} lines of 1m`)

      // Late readings for windows HQ already holds: 40% of them, each with a value above every earlier one,
      // so that each run has a revision stream of over 10,000 rows (with a checkpoint) to be killed in.
      const held = [...upsert(file1m).latest.values()]
      if (held.length === 0) continue
      round++
      const value = 500 + round
      const byDevice = new Map<string, Array<{ ts: number; metrics: Record<string, number> }>>()
      for (const w of held) {
        if (random() >= 0.4) continue
        late.set(keyOf(w.metric, w.labels.zone, w.labels.device, '', w.start), value)
        const list = byDevice.get(w.labels.device) ?? []
        list.push({ ts: w.start + 59_000 + round, metrics: { [w.metric]: value } })
        byDevice.set(w.labels.device, list)
      }
      await Promise.all(
        [...byDevice].map(([device, list]) => {
          const msgs = []
          for (let i = 0; i < list.length; i += 100)
            msgs.push({ topic: topicOf(gw.config.site, device, 'reading'), payload: JSON.stringify({ v: 1, readings: list.slice(i, i + 100) }) })
          return publishAll(clients[Number(device.slice('dev-'.length))]!, msgs)
        }),
      )
    }
    console.log(`hq pull: seed ${SEED}, SIGKILLs at ${killedAt.join('; ')}`)
    expect(killedAt.length).toBe(KILLS)
    expect(round).toBeGreaterThanOrEqual(2)

    const final = await pull(args)
    expect(final.code, final.stderr).toBe(0)
    const again = await pull(args)
    expect(again.code, again.stderr).toBe(0)
    // Resumed at the end: no window twice.
    const againSites = (again.json.pull as { sites: Record<string, Record<string, { rows: number }>> }).sites
    for (const res of ['1m', '1h', '1d']) expect(againSites[gw.config.site]![`rollups/${res}`]!.rows).toBe(0)

    const dbFile = join(gw.dataDir, 'stockyard.db')
    for (const res of ['1m', '1h', '1d'] as const) {
      const { latest } = upsert(join(out, gw.config.site, `rollups-${res}.ndjson`))
      const d = diff(latest, gatewayWindows(dbFile, res, 0), res)
      expect(d.differences, res).toEqual([])
      expect(d.hq).toBe(d.gateway)
    }
    expect(upsert(file1m).latest.size).toBe(DEVICES * 2 * 720)

    // Corrections: each late window was held at a lower revision, and its corrected values won.
    const { latest, revisions } = upsert(file1m)
    for (const [k, value] of late) {
      const seen = revisions.get(k)!
      const final = latest.get(k)!
      expect(final.max, k).toBe(value)
      expect(final.last, k).toBe(value)
      expect(final.revision, k).toBeGreaterThan(1)
      expect(seen.some((r) => r.revision < final.revision && r.max < value)).toBe(true)
    }
    expect(late.size).toBeGreaterThan(10_000)

    // --check totals are the gateway's; events and alerts arrive once each.
    const check = await pull(['--check', '--site', gw.config.site, '--into', out])
    expect(check.code, check.stderr).toBe(0)
    const totals = (check.json.check as Record<string, { rollups: Record<string, unknown>; events: { rows: number }; alerts: { rows: number } }>)[
      gw.config.site
    ]!
    expect(totals.rollups).toEqual(gatewayTotals(dbFile))
    expect(totals.events.rows).toBe(countRows(dbFile, 'SELECT count(*) FROM events'))
    const alertIds = fileLines(join(out, gw.config.site, 'alerts.ndjson')).map((l) => (JSON.parse(l) as { id: number }).id)
    expect(new Set(alertIds).size).toBe(totals.alerts.rows)
    const maxId = Math.max(0, ...alertIds)
    expect(totals.alerts.rows).toBe(countRows(dbFile, `SELECT count(*) FROM alert_history WHERE id <= ${maxId}`))
  })
})

describe('three sites, one puller', () => {
  const SITES = ['site-a', 'site-b', 'site-c'] as const
  const gws: Array<{ name: string; proc: GatewayProcess; dir: string; url: string; viewer: string }> = []
  /** HQ's one token, provisioned at every site (the same row in each store: only its hash is kept). */
  let hq = ''
  let out: string
  let influx: Influxd | undefined
  const dirs: string[] = []

  beforeAll(async () => {
    out = tempDir('stockyard-hq-sites-')
    const influxStart = requireBinary('influxd') ? startInfluxd() : undefined
    let tokenRow: unknown
    const provisioned: Array<{ dir: string; devices: DeviceCredentials[]; viewer: string }> = []
    for (const [i, name] of SITES.entries()) {
      const dir = tempDir(`stockyard-${name}-`)
      dirs.push(dir)
      const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
      try {
        if (i === 0) {
          hq = store.tokens.add('hq', 'hq-puller').token
          tokenRow = store.db.prepare(`SELECT * FROM tokens WHERE name = 'hq-puller'`).get()
        } else store.db.prepare('INSERT INTO tokens (id, hash, role, name, created_at) VALUES (@id, @hash, @role, @name, @created_at)').run(tokenRow)
        const viewer = store.tokens.add('viewer').token
        const devices: DeviceCredentials[] = []
        for (let d = 0; d <= i; d++) devices.push(await store.devices.add({ id: `${name}-dev-${d}`, kind: 'env', site: name, zone: `z${d}` }))
        provisioned.push({ dir, devices, viewer })
      } finally {
        store.close()
      }
    }
    try {
      await Promise.all(
        SITES.map(async (name, i) => {
          const { dir, devices, viewer } = provisioned[i]!
          const args = ['--data', dir, '--site', name, '--mqtt-port', '0', '--ws-port', '0', '--http-port', '0', '--log-level', 'info']
          const { gw: proc, ready } = await GatewayProcess.start(args, { lifetimeS: 120, env: { STOCKYARD_HQ_ALLOWED_LATENESS_MS: '0' } })
          gws[i] = { name, proc, dir, url: `http://127.0.0.1:${ready.ports.http}`, viewer }
          // Different data per site: i + 1 devices, 600 + 300 i readings each over 2 + i hours, and 3 + i scans each.
          for (const [d, c] of devices.entries()) {
            const client = await connectDevice(ready.ports.mqtt, c)
            const msgs = readings(name, c.id, d + 10 * i, 600 + 300 * i, DAY0 + (8 + i) * HOUR, 2 + i)
            for (let s = 0; s < 3 + i; s++) {
              const scan = { v: 1, ts: DAY0 + 9 * HOUR + s * MINUTE, event: 'pick', sku: `SKU-${i}${s}`, qty: s + 1, location: 'A-01' }
              msgs.push({ topic: topicOf(name, c.id, 'scan'), payload: JSON.stringify(scan) })
            }
            await publishAll(client, msgs)
            await client.endAsync()
          }
        }),
      )
    } finally {
      // Awaited even when a gateway failed to start, so that afterAll stops it.
      influx = await influxStart
    }
  })

  afterAll(async () => {
    await Promise.all(gws.filter(Boolean).map((g) => g.proc.stop()))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    rmSync(out, { recursive: true, force: true })
    await influx?.dispose()
  })

  const sitesArgs = (): string[] => gws.flatMap((g) => ['--site', `${g.name}=${g.url}`])
  const db = (i: number): string => join(gws[i]!.dir, 'stockyard.db')

  it('files every row under its own site, and --check totals equal each gateway', async () => {
    const r = await pull([...sitesArgs(), '--token', hq, '--into', out, '--once', '--concurrency', '3'])
    expect(r.code, r.stderr).toBe(0)
    for (const [i, g] of gws.entries()) {
      for (const stream of ['rollups-1m', 'rollups-1h', 'rollups-1d', 'events', 'alerts']) {
        const rows = fileLines(join(out, g.name, `${stream}.ndjson`)).map((l) => JSON.parse(l) as { site: string })
        expect(rows.every((x) => x.site === g.name)).toBe(true)
        if (stream.startsWith('rollups')) expect(rows.length).toBeGreaterThan(0)
      }
      expect(fileLines(join(out, g.name, 'events.ndjson'))).toHaveLength((i + 1) * (3 + i))
    }
    const check = await pull(['--check', ...SITES.flatMap((s) => ['--site', s]), '--into', out])
    expect(check.code, check.stderr).toBe(0)
    const totals = check.json.check as Record<string, { rollups: unknown; events: { rows: number } }>
    for (const [i, g] of gws.entries()) {
      expect(totals[g.name]!.rollups).toEqual(gatewayTotals(db(i)))
      expect(totals[g.name]!.events.rows).toBe(countRows(db(i), 'SELECT count(*) FROM events'))
    }
  })

  it.skipIf(!requireBinary('influxd'))('writes the rollups of three sites into InfluxDB, idempotently', async () => {
    const state = tempDir('stockyard-hq-state-')
    try {
      const into = influx!.url
      for (let pass = 0; pass < 2; pass++) {
        // The second pass starts from no cursor at all: every point is written again, and overwritten.
        if (pass === 1) rmSync(state, { recursive: true, force: true })
        const r = await pull([...sitesArgs(), '--token', hq, '--into', into, '--state', state, '--once', '--concurrency', '3'])
        expect(r.code, r.stderr).toBe(0)
      }
      const check = await pull(['--check', ...SITES.flatMap((s) => ['--site', s]), '--into', into])
      expect(check.code, check.stderr).toBe(0)
      const totals = check.json.check as Record<string, { rollups: unknown }>
      for (const [i, g] of gws.entries()) expect(totals[g.name]!.rollups).toEqual(gatewayTotals(db(i)))
    } finally {
      rmSync(state, { recursive: true, force: true })
    }
  })

  describe('security', () => {
    it('refuses a viewer token: non-zero exit, and the message names role hq', async () => {
      const dir = tempDir('stockyard-hq-viewer-')
      try {
        const r = await pull(['--site', `site-a=${gws[0]!.url}`, '--token', gws[0]!.viewer, '--into', dir, '--once'])
        expect(r.code).not.toBe(0)
        expect(r.stderr).toMatch(/error auth\.forbidden: .*needs role hq/)
        expect(existsSync(join(dir, 'site-a', 'rollups-1m.cursor'))).toBe(false)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    /** A copy of site-a's pulled state, with `edit` applied to its 1m cursor file; the pull of that stream must be refused (400) and leave the file alone. */
    async function refusedCursor(edit: (file: string) => void, message: RegExp): Promise<void> {
      const dir = tempDir('stockyard-hq-cursor-')
      try {
        cpSync(join(out, 'site-a'), join(dir, 'site-a'), { recursive: true })
        const cursorFile = join(dir, 'site-a', 'rollups-1m.cursor')
        edit(cursorFile)
        const before = readFileSync(cursorFile, 'utf8')
        const size = statSync(join(dir, 'site-a', 'rollups-1m.ndjson')).size
        const r = await pull(['--site', `site-a=${gws[0]!.url}`, '--token', hq, '--into', dir, '--once', '--streams', 'rollups', '--resolution', '1m'])
        expect(r.code).not.toBe(0)
        expect(r.stderr).toMatch(/error request\.invalid: .*\(400\)/)
        expect(r.stderr).toMatch(message)
        // Not silently restarted from zero: the cursor stays, no row was written.
        expect(readFileSync(cursorFile, 'utf8')).toBe(before)
        expect(statSync(join(dir, 'site-a', 'rollups-1m.ndjson')).size).toBe(size)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }

    it('refuses a tampered cursor with 400 and keeps it', async () => {
      await refusedCursor((file) => {
        const c = readFileSync(file, 'utf8').trim()
        const [v, payload, mac] = c.split('.') as [string, string, string]
        // The same cursor moved back to seq 0: a valid payload whose mac no longer fits.
        const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { seq: number }
        body.seq = 0
        writeFileSync(file, `${v}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${mac}\n`)
      }, /altered/)
    })

    it("refuses another site's cursor with 400 and keeps it", async () => {
      await refusedCursor((file) => copyFileSync(join(out, 'site-b', 'rollups-1m.cursor'), file), /belongs to site "site-b"/)
    })

    it('refuses to file one site under the name of another', async () => {
      const dir = tempDir('stockyard-hq-mixup-')
      try {
        const r = await pull(['--site', `site-a=${gws[1]!.url}`, '--token', hq, '--into', dir, '--once'])
        expect(r.code).not.toBe(0)
        expect(r.stderr).toMatch(/points at the gateway of site "site-b"/)
        expect(fileLines(join(dir, 'site-a', 'rollups-1m.ndjson'))).toEqual([])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
})

/** A scripted gateway of site `site`: `/api/v1/hq/site` after `beforeSite`, everything else answered by `handle`. */
async function fakeGateway(
  site: string,
  handle: (u: URL, res: ServerResponse) => void,
  beforeSite: () => Promise<void> = () => Promise.resolve(),
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x')
    if (u.pathname === '/api/v1/hq/site') return void beforeSite().then(() => res.end(JSON.stringify({ site })))
    res.setHeader('content-type', 'application/x-ndjson')
    handle(u, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('the contract at its edges, against scripted gateways', () => {
  const row = (i: number): string =>
    JSON.stringify({
      site: 'fake',
      metric: 'm',
      labels: { zone: 'z', device: 'd', sku: '' },
      resolution: '1m',
      start: i * MINUTE,
      count: 1,
      sum: i,
      min: i,
      max: i,
      last: i,
      revision: 1,
    })
  let dir: string

  beforeAll(() => {
    dir = tempDir('stockyard-hq-fake-')
  })

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('resumes a cut stream from its last checkpoint, and stops a stream the gateway answers 410 without starting it over', async () => {
    /** Cursors of each rollups request, per resolution, in order (`-` for none). */
    const asked: Record<string, string[]> = { '1m': [], '1h': [] }
    const gw = await fakeGateway('fake', (u, res) => {
      const cursor = u.searchParams.get('cursor') ?? '-'
      const resolution = u.searchParams.get('resolution')!
      asked[resolution]?.push(cursor)
      if (resolution === '1h') {
        res.statusCode = 410
        return void res.end(JSON.stringify({ error: { code: 'gone', message: '1h windows before 2026-01-01T00:00:00.000Z were deleted by retention' } }))
      }
      // First three rows, a checkpoint, two rows, and the connection drops: no last line. Then the rest.
      if (cursor === '-')
        return void res.write([row(1), row(2), row(3), JSON.stringify({ cursor: 'CP3', rows: 3 }), row(4), row(5)].join('\n') + '\n', () => res.destroy())
      res.end([row(4), row(5), JSON.stringify({ next_cursor: 'END5', rows: 2, more: false })].join('\n') + '\n')
    })
    try {
      mkdirSync(join(dir, 'fake'))
      const cursor1h = join(dir, 'fake', 'rollups-1h.cursor')
      writeFileSync(cursor1h, 'OLD\n')
      const r = await pull(['--site', `fake=${gw.url}`, '--token', 't', '--into', dir, '--once', '--streams', 'rollups', '--resolution', '1m,1h'])
      // 1m: asked again from the checkpoint, not from the rows after it, then complete.
      expect(r.stderr).toMatch(/fake: rollups\/1m: the response (?:was cut|broke off) after 5 rows/)
      expect(asked['1m']).toEqual(['-', 'CP3'])
      expect(readFileSync(join(dir, 'fake', 'rollups-1m.cursor'), 'utf8').trim()).toBe('END5')
      const starts = fileLines(join(dir, 'fake', 'rollups-1m.ndjson')).map((l) => (JSON.parse(l) as { start: number }).start / MINUTE)
      expect(new Set(starts)).toEqual(new Set([1, 2, 3, 4, 5]))
      // 1h: reported, asked once, its cursor kept; the run fails.
      expect(asked['1h']).toEqual(['OLD'])
      expect(readFileSync(cursor1h, 'utf8')).toBe('OLD\n')
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/error gone: .*rollups\/1h: the gateway deleted rows this cursor had not read yet \(410\): 1h windows before 2026/)
    } finally {
      await gw.close()
    }
  })

  it('pulls at most --concurrency sites at once', async () => {
    // Each site descriptor is held until three are asked for at once (or 400 ms pass).
    let inFlight = 0
    let peak = 0
    let release: () => void = () => undefined
    let all = new Promise<void>((resolve) => (release = resolve))
    const barrier = async (): Promise<void> => {
      peak = Math.max(peak, ++inFlight)
      if (inFlight === 3) release()
      await Promise.race([all, sleep(400)])
      inFlight--
    }
    const empty = (_u: URL, res: ServerResponse): void => void res.end(JSON.stringify({ next_cursor: 'E', rows: 0, more: false }) + '\n')
    const gws = await Promise.all(['fake-1', 'fake-2', 'fake-3'].map((name) => fakeGateway(name, empty, barrier)))
    try {
      for (const concurrency of [3, 2]) {
        peak = 0
        all = new Promise<void>((resolve) => (release = resolve))
        const into = join(dir, `c${concurrency}`)
        const sites = gws.flatMap((g, i) => ['--site', `fake-${i + 1}=${g.url}`])
        const r = await pull([
          ...sites,
          '--token',
          't',
          '--into',
          into,
          '--once',
          '--streams',
          'rollups',
          '--resolution',
          '1m',
          '--concurrency',
          String(concurrency),
        ])
        expect(r.code, r.stderr).toBe(0)
        expect(peak).toBe(concurrency)
      }
    } finally {
      await Promise.all(gws.map((g) => g.close()))
    }
  })
})
