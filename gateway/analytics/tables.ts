/**
 * Where an analytics run leaves its results: one row per SKU in `analytics_forecast`, and the
 * site-wide results (segments, policy, regression, the run summary) as named documents in
 * `analytics_results`.
 *
 * Runs are versioned so that a reader (the HTTP API, the rule runtime) sees either the old run or the
 * new one, never half of each, while the writer never holds the store's write lock for long (the
 * ingest worker commits between its steps): a run's forecast rows are written under a new run
 * number in chunks of short transactions, then one small transaction stores the named results and
 * makes the run current, and then the old run's rows are deleted in chunks. Rows of a run that never
 * became current (a crash mid-write) are deleted by the next write.
 */
import type { Database } from 'better-sqlite3'
import { hasTable } from '../state/sql.ts'

const DDL = `
CREATE TABLE IF NOT EXISTS analytics_forecast (
  run INTEGER NOT NULL, sku TEXT NOT NULL, start_day INTEGER NOT NULL, sd_daily REAL NOT NULL, mean TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (run, sku)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS analytics_results (name TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS analytics_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`
const CURRENT = `(SELECT CAST(value AS INTEGER) FROM analytics_state WHERE key = 'current_run')`
/** Rows per write transaction (a few hundred KB at most). */
const CHUNK = 100

/** One SKU's forecast as stored: daily units from `startDay` (UTC day number) on. */
export interface SkuForecast {
  sku: string
  /** When the run that made it finished (epoch ms). */
  at: number
  /** UTC day number of `mean[0]` (the day the run was made in). */
  startDay: number
  method: string
  /** Why the method differs from the one asked for (too short for the season, constant series, …). */
  note?: string
  /** Days of history it was fitted on. */
  n: number
  mean: number[]
  lower: Record<string, number[]>
  upper: Record<string, number[]>
  /** Standard deviation of one day's demand around the forecast (from the first step of the widest interval). */
  sdDaily: number
  fit: Record<string, unknown>
  /** Rolling-origin backtest, or null when the history is too short for one. */
  accuracy: Record<string, unknown> | null
  stats: Record<string, unknown>
}

/** What the forecast signals need of a forecast: a small read, for the ingest worker. */
export type ForecastPath = Pick<SkuForecast, 'sku' | 'startDay' | 'mean' | 'sdDaily'>

export type ResultName = 'run' | 'segments' | 'policy' | 'regression'

export function createAnalyticsTables(db: Database): void {
  db.exec(DDL)
}

/**
 * Store a run: its forecasts (stamped `at`) and named results, made current at once (see the module
 * comment). The caller is the only writer of these tables and calls this outside a transaction.
 */
export function writeRun(db: Database, at: number, forecasts: readonly SkuForecast[], results: Partial<Record<ResultName, unknown>>): void {
  createAnalyticsTables(db)
  const current = (db.prepare(`SELECT ${CURRENT}`).pluck().get() as number | null) ?? 0
  const run = current + 1
  const put = db.prepare('INSERT INTO analytics_forecast (run, sku, start_day, sd_daily, mean, body) VALUES (?, ?, ?, ?, ?, ?)')
  deleteRuns(db, 'run > ?', current)
  for (let i = 0; i < forecasts.length; i += CHUNK) {
    db.transaction(() => {
      for (const f of forecasts.slice(i, i + CHUNK)) put.run(run, f.sku, f.startDay, f.sdDaily, JSON.stringify(f.mean), JSON.stringify({ ...f, at }))
    }).immediate()
  }
  const res = db.prepare('INSERT OR REPLACE INTO analytics_results (name, at, body) VALUES (?, ?, ?)')
  db.transaction(() => {
    for (const [name, body] of Object.entries(results)) res.run(name, at, JSON.stringify(body))
    db.prepare(`INSERT OR REPLACE INTO analytics_state (key, value) VALUES ('current_run', ?)`).run(String(run))
  }).immediate()
  deleteRuns(db, 'run < ?', run)
}

/** Delete the forecast rows of runs matching `where`, a chunk per transaction. */
function deleteRuns(db: Database, where: string, run: number): void {
  const keys = db.prepare(`SELECT run, sku FROM analytics_forecast WHERE ${where} LIMIT ${CHUNK * 5}`)
  const one = db.prepare('DELETE FROM analytics_forecast WHERE run = ? AND sku = ?')
  for (;;) {
    const rows = keys.all(run) as Array<{ run: number; sku: string }>
    if (rows.length === 0) return
    db.transaction(() => {
      for (const r of rows) one.run(r.run, r.sku)
    }).immediate()
  }
}

/** Every SKU's forecast of the current run (or one SKU's), from any connection; empty before the first run. */
export function readForecasts(db: Database, sku?: string): SkuForecast[] {
  if (!hasTable(db, 'analytics_forecast') || !hasTable(db, 'analytics_state')) return []
  const rows = (
    sku === undefined
      ? db.prepare(`SELECT body FROM analytics_forecast WHERE run = ${CURRENT} ORDER BY sku`).pluck().all()
      : db.prepare(`SELECT body FROM analytics_forecast WHERE run = ${CURRENT} AND sku = ?`).pluck().all(sku)
  ) as string[]
  return rows.map((b) => JSON.parse(b) as SkuForecast)
}

/** The SKUs of the current run with only what the forecast signals need. */
export function readForecastPaths(db: Database): ForecastPath[] {
  if (!hasTable(db, 'analytics_forecast') || !hasTable(db, 'analytics_state')) return []
  const rows = db.prepare(`SELECT sku, start_day, sd_daily, mean FROM analytics_forecast WHERE run = ${CURRENT} ORDER BY sku`).all() as Array<{
    sku: string
    start_day: number
    sd_daily: number
    mean: string
  }>
  return rows.map((r) => ({ sku: r.sku, startDay: r.start_day, sdDaily: r.sd_daily, mean: JSON.parse(r.mean) as number[] }))
}

/** The SKUs of the current run, without reading their forecasts. */
export function readForecastSkus(db: Database): string[] {
  if (!hasTable(db, 'analytics_forecast') || !hasTable(db, 'analytics_state')) return []
  return db.prepare(`SELECT sku FROM analytics_forecast WHERE run = ${CURRENT} ORDER BY sku`).pluck().all() as string[]
}

/** A named result of the last run and when it was made, or undefined before the first run. */
export function readResult<T>(db: Database, name: ResultName): { at: number; body: T } | undefined {
  if (!hasTable(db, 'analytics_results')) return undefined
  const row = db.prepare('SELECT at, body FROM analytics_results WHERE name = ?').get(name) as { at: number; body: string } | undefined
  return row && { at: row.at, body: JSON.parse(row.body) as T }
}
