/**
 * Alerts as the rest of the gateway sees them. One alert per fingerprint (rule id + labels); each
 * time it goes from quiet to pending it starts a new `episode`. `acknowledged` and `silenced` are
 * attributes of an alert, not states: an acknowledged alert still resolves, a silenced one still
 * changes state but sends no notifications.
 */
import type { SEVERITIES } from '../rules/schema.ts'

export type Severity = (typeof SEVERITIES)[number]

/** pending: the condition holds, not yet for `for`. firing: it held for `for`. resolved: it cleared (for `clear_for`). */
export type AlertState = 'pending' | 'firing' | 'resolved'

/**
 * One evaluation of a condition. `fire`: the firing condition holds. `clear`: the clear condition
 * holds (at or past the `clear` level). `hold`: between the two (hysteresis band): a firing alert
 * stays firing, a pending one is cancelled.
 */
export type Verdict = 'fire' | 'clear' | 'hold'

export interface Alert {
  /** The fingerprint: 16 hex digits of sha256(rule id, labels); stable across restarts and reloads. */
  id: string
  rule: string
  episode: number
  state: AlertState
  severity: Severity
  /** The condition kind's labels, then the rule's own labels. */
  labels: Record<string, string>
  /** Rendered annotation templates, as of the last state change. */
  annotations: Record<string, string>
  value: number | null
  threshold: number | null
  /** The last verdict; a pending alert fires on its `for` timer only while this is `fire`. */
  verdict: Verdict
  /** When the condition started to hold (the start of `for`); `since` in templates. */
  activeSince: number
  firedAt: number | null
  resolvedAt: number | null
  /** When the clear condition started to hold while firing (the start of `clear_for`), else null. */
  clearSince: number | null
  /** Time of the last state change (flap damping counts from here). */
  lastChange: number
  ack: { by: string; at: number } | null
  /** Id of the silence that matches the alert now, else null. */
  silencedBy: string | null
  /** Targets of the rule as of the last state change. */
  notify: string[]
  updatedAt: number
}

/** What happened to an alert; `pending`, `firing`, `resolved` are state changes, the rest attribute changes. */
export type AlertEvent = 'pending' | 'firing' | 'resolved' | 'cancelled' | 'acknowledged' | 'silenced' | 'unsilenced'

export interface AlertChange {
  event: AlertEvent
  at: number
  alert: Alert
}

/** A silence: alerts whose labels match every matcher (globs; `rule` matches the rule id) send no notifications until `endsAt`. */
export interface Silence {
  id: string
  matchers: Record<string, string>
  startsAt: number
  endsAt: number
  createdBy: string
  comment: string
  createdAt: number
}
