/**
 * Topic rights. A device may publish only under its own prefix `stockyard/v1/{site}/{deviceId}/…`
 * and subscribe only to its own `…/cmd/#` and `…/errors`. Internal clients get the filters listed
 * in config. Pure functions, so the rules are testable without a broker.
 */

export const TOPIC_ROOT = 'stockyard/v1'

/** `stockyard/v1/{site}/{deviceId}` */
export function devicePrefix(site: string, deviceId: string): string {
  return `${TOPIC_ROOT}/${site}/${deviceId}`
}

export function errorsTopic(site: string, deviceId: string): string {
  return `${devicePrefix(site, deviceId)}/errors`
}

export function canDevicePublish(site: string, deviceId: string, topic: string): boolean {
  return topic.startsWith(devicePrefix(site, deviceId) + '/')
}

/** A device may subscribe to exactly its errors topic, or to its cmd subtree (`cmd`, `cmd/#`, `cmd/x/+` …). */
export function canDeviceSubscribe(site: string, deviceId: string, filter: string): boolean {
  const prefix = devicePrefix(site, deviceId)
  if (filter === `${prefix}/errors`) return true
  if (filter === `${prefix}/cmd`) return true
  if (!filter.startsWith(`${prefix}/cmd/`)) return false
  return true
}

/**
 * Whether every topic matched by `filter` is also matched by `pattern` (MQTT wildcards in both).
 * Used for internal clients: a subscription is allowed only if a granted pattern covers it.
 */
export function covers(pattern: string, filter: string): boolean {
  const p = pattern.split('/')
  const f = filter.split('/')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true
    if (i >= f.length) return false
    if (f[i] === '#') return false
    if (p[i] === '+') continue
    if (f[i] === '+' || p[i] !== f[i]) return false
  }
  return p.length === f.length
}

/** Whether a concrete topic matches an MQTT filter. [MQTT-4.7.2-1]: filters starting with a wildcard do not match `$` topics. */
export function matches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  return covers(filter, topic)
}
