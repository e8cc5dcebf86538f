/**
 * Alerts, their history and silences in the embedded store. The rule engine on the ingest worker is
 * the only writer (through `AlertTables`, inside its own transactions); the HTTP API reads the same
 * tables from its connection with `readAlerts` and friends.
 */
import type { Database, Statement } from 'better-sqlite3'
import type { Alert, AlertChange, AlertState, Severity, Silence } from './types.ts'

const DDL = `
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY, rule TEXT NOT NULL, episode INTEGER NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL,
  labels TEXT NOT NULL, annotations TEXT NOT NULL, value REAL, threshold REAL, verdict TEXT NOT NULL,
  active_since INTEGER NOT NULL, fired_at INTEGER, resolved_at INTEGER, clear_since INTEGER, last_change INTEGER NOT NULL,
  ack_by TEXT, ack_at INTEGER, silenced_by TEXT, notify TEXT NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_history (
  id INTEGER PRIMARY KEY, alert TEXT NOT NULL, rule TEXT NOT NULL, episode INTEGER NOT NULL, at INTEGER NOT NULL,
  event TEXT NOT NULL, state TEXT NOT NULL, value REAL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL,
  created_by TEXT NOT NULL, comment TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
`

interface AlertRow {
  id: string
  rule: string
  episode: number
  state: AlertState
  severity: Severity
  labels: string
  annotations: string
  value: number | null
  threshold: number | null
  verdict: Alert['verdict']
  active_since: number
  fired_at: number | null
  resolved_at: number | null
  clear_since: number | null
  last_change: number
  ack_by: string | null
  ack_at: number | null
  silenced_by: string | null
  notify: string
  updated_at: number
}

function toAlert(r: AlertRow): Alert {
  return {
    id: r.id,
    rule: r.rule,
    episode: r.episode,
    state: r.state,
    severity: r.severity,
    labels: JSON.parse(r.labels) as Record<string, string>,
    annotations: JSON.parse(r.annotations) as Record<string, string>,
    value: r.value,
    threshold: r.threshold,
    verdict: r.verdict,
    activeSince: r.active_since,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
    clearSince: r.clear_since,
    lastChange: r.last_change,
    ack: r.ack_by === null || r.ack_at === null ? null : { by: r.ack_by, at: r.ack_at },
    silencedBy: r.silenced_by,
    notify: JSON.parse(r.notify) as string[],
    updatedAt: r.updated_at,
  }
}

interface SilenceRow {
  id: string
  matchers: string
  starts_at: number
  ends_at: number
  created_by: string
  comment: string
  created_at: number
}

function toSilence(r: SilenceRow): Silence {
  return {
    id: r.id,
    matchers: JSON.parse(r.matchers) as Record<string, string>,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    createdBy: r.created_by,
    comment: r.comment,
    createdAt: r.created_at,
  }
}

/** Create the alert tables if missing (both the writer and readers call this). */
export function migrateAlerts(db: Database): void {
  db.exec(DDL)
}

/** The writer's side: upserts, history and silences, all on prepared statements (the caller owns the transaction). */
export class AlertTables {
  private readonly upsert: Statement
  private readonly remove: Statement
  private readonly history: Statement
  private readonly putSilence: Statement
  private readonly pruneAlerts: Statement
  private readonly pruneHistory: Statement
  private readonly pruneSilences: Statement

  constructor(private readonly db: Database) {
    migrateAlerts(db)
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO alerts (id, rule, episode, state, severity, labels, annotations, value, threshold, verdict, active_since,
        fired_at, resolved_at, clear_since, last_change, ack_by, ack_at, silenced_by, notify, updated_at)
       VALUES (@id, @rule, @episode, @state, @severity, @labels, @annotations, @value, @threshold, @verdict, @activeSince,
        @firedAt, @resolvedAt, @clearSince, @lastChange, @ackBy, @ackAt, @silencedBy, @notify, @updatedAt)`,
    )
    this.remove = db.prepare(`DELETE FROM alerts WHERE id = ?`)
    this.history = db.prepare(`INSERT INTO alert_history (alert, rule, episode, at, event, state, value, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
    this.putSilence = db.prepare(
      `INSERT OR REPLACE INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    this.pruneAlerts = db.prepare(`DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?`)
    this.pruneHistory = db.prepare(`DELETE FROM alert_history WHERE at < ?`)
    this.pruneSilences = db.prepare(`DELETE FROM silences WHERE ends_at < ?`)
  }

  /** Every stored alert (pending, firing and resolved ones still in the history window). */
  loadAlerts(): Alert[] {
    return (this.db.prepare(`SELECT * FROM alerts`).all() as AlertRow[]).map(toAlert)
  }

  loadSilences(): Silence[] {
    return (this.db.prepare(`SELECT * FROM silences`).all() as SilenceRow[]).map(toSilence)
  }

  save(a: Alert): void {
    this.upsert.run({
      ...a,
      labels: JSON.stringify(a.labels),
      annotations: JSON.stringify(a.annotations),
      notify: JSON.stringify(a.notify),
      ackBy: a.ack?.by ?? null,
      ackAt: a.ack?.at ?? null,
    })
  }

  delete(id: string): void {
    this.remove.run(id)
  }

  record(change: AlertChange, detail: Record<string, unknown> = {}): void {
    const a = change.alert
    this.history.run(a.id, a.rule, a.episode, change.at, change.event, a.state, a.value, JSON.stringify(detail))
  }

  saveSilence(s: Silence): void {
    this.putSilence.run(s.id, JSON.stringify(s.matchers), s.startsAt, s.endsAt, s.createdBy, s.comment, s.createdAt)
  }

  /** Forget resolved alerts, history and silences that ended before `before`. */
  prune(before: number): number {
    return this.pruneAlerts.run(before).changes + this.pruneHistory.run(before).changes + this.pruneSilences.run(before).changes
  }
}

export interface AlertFilter {
  state?: AlertState
  severity?: Severity
  rule?: string
  limit: number
}

/** Alerts for the API, newest change first. */
export function readAlerts(db: Database, f: AlertFilter): Alert[] {
  const where: string[] = []
  const args: Array<string | number> = []
  for (const key of ['state', 'severity', 'rule'] as const) {
    const v = f[key]
    if (v !== undefined) {
      where.push(`${key} = ?`)
      args.push(v)
    }
  }
  const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at DESC, id LIMIT ?`
  return (db.prepare(sql).all(...args, f.limit) as AlertRow[]).map(toAlert)
}

export function readAlert(db: Database, id: string): Alert | null {
  const row = db.prepare(`SELECT * FROM alerts WHERE id = ?`).get(id) as AlertRow | undefined
  return row ? toAlert(row) : null
}

export interface HistoryEntry {
  id: number
  alert: string
  rule: string
  episode: number
  at: number
  event: string
  state: AlertState
  value: number | null
  detail: Record<string, unknown>
}

/** State changes of one alert (or all), oldest first. */
export function readHistory(db: Database, opts: { alert?: string; limit: number }): HistoryEntry[] {
  const rows = db
    .prepare(`SELECT * FROM alert_history ${opts.alert ? 'WHERE alert = ?' : ''} ORDER BY id DESC LIMIT ?`)
    .all(...(opts.alert ? [opts.alert] : []), opts.limit) as Array<Omit<HistoryEntry, 'detail'> & { detail: string }>
  return rows.reverse().map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }))
}

/** A state change in a time window, with the alert's severity and labels. */
export interface WindowEntry extends HistoryEntry {
  severity: Severity | null
  labels: Record<string, string>
}

/** State changes of every alert made in [from, to), oldest first, at most `limit` (+1 to tell whether there were more). */
export function readHistoryBetween(db: Database, opts: { from: number; to: number; limit: number; severity?: Severity }): WindowEntry[] {
  const rows = db
    .prepare(
      `SELECT h.*, a.severity AS severity, a.labels AS labels FROM alert_history h LEFT JOIN alerts a ON a.id = h.alert
       WHERE h.at >= ? AND h.at < ? ${opts.severity ? 'AND a.severity = ?' : ''} ORDER BY h.id LIMIT ?`,
    )
    .all(opts.from, opts.to, ...(opts.severity ? [opts.severity] : []), opts.limit) as Array<
    Omit<WindowEntry, 'detail' | 'labels'> & { detail: string; labels: string | null }
  >
  return rows.map((r) => ({
    ...r,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    labels: r.labels ? (JSON.parse(r.labels) as Record<string, string>) : {},
  }))
}

/** Silences that have not ended by `now`. */
export function readSilences(db: Database, now: number): Silence[] {
  return (db.prepare(`SELECT * FROM silences WHERE ends_at > ? ORDER BY ends_at`).all(now) as SilenceRow[]).map(toSilence)
}
