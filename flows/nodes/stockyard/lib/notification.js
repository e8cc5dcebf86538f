'use strict'
/**
 * The JSON a webhook gets for an alert: the fields of the gateway's alert message (`payloadOf` in
 * gateway/rules/runtime.ts) that a receiver needs, plus `text`, one line for people.
 */

/** A number as people read it: 9.1, 0.25, 1234.57 (at most 6 significant digits). */
function num(v) {
  return String(Number(Number(v).toPrecision(6)))
}

/** What the alert is about: its summary annotation, else its description, else its labels. */
function aboutOf(alert) {
  const ann = alert.annotations || {}
  if (ann.summary) return ann.summary
  if (ann.description) return ann.description
  return Object.entries(alert.labels || {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
}

/**
 * One line for people.
 * @example textOf(msg) // "[CRITICAL] cold-room-temp firing at site1: Cold room at 9.1 °C (value 9.1, threshold 8)"
 */
function textOf(p) {
  const a = p.alert
  const what = p.event === 'acknowledged' && a.ack ? `acknowledged by ${a.ack.by}` : p.event
  const about = aboutOf(a)
  const figures = []
  if (typeof a.value === 'number') figures.push(`value ${num(a.value)}`)
  if (typeof a.threshold === 'number') figures.push(`threshold ${num(a.threshold)}`)
  return `[${String(a.severity).toUpperCase()}] ${a.rule} ${what} at ${p.site}${about ? `: ${about}` : ''}${figures.length ? ` (${figures.join(', ')})` : ''}`
}

/** `{text, site, rule, severity, state, event, labels, value, threshold, at, alertId}` of an alert message. */
function notificationOf(p) {
  const a = p.alert
  return {
    text: textOf(p),
    site: p.site,
    rule: a.rule,
    severity: a.severity,
    state: a.state,
    event: p.event,
    labels: a.labels || {},
    value: a.value ?? null,
    threshold: a.threshold ?? null,
    at: p.at,
    alertId: a.id,
  }
}

module.exports = { notificationOf, textOf }
