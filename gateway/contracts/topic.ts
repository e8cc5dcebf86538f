/** The topic of device messages: `stockyard/v1/{site}/{deviceId}/{kind}`. */

/** What a topic says about its message, or why it is refused. */
export type ParsedTopic =
  { ok: true; site: string; deviceId: string; kind: string } | { ok: false; code: 'topic.invalid' | 'topic.too_many_levels'; message: string }

const SITE = /^[A-Za-z0-9_-]{1,64}$/
const DEVICE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/
const KIND = /^[A-Za-z0-9_-]{1,64}$/
const SHAPE = 'expected stockyard/v1/{site}/{deviceId}/{kind}'

function invalid(message: string): ParsedTopic {
  return { ok: false, code: 'topic.invalid', message }
}

/**
 * Splits a device topic into site, device and kind. Whether the kind exists is decided later
 * (`payload.unknown_kind`), so that the refusal can list the kinds.
 * @example parseTopic('stockyard/v1/dc-east/scale-07/reading', 8) // { ok: true, site: 'dc-east', deviceId: 'scale-07', kind: 'reading' }
 */
export function parseTopic(topic: string, maxLevels: number): ParsedTopic {
  // Count levels before splitting, so a topic of 60,000 slashes costs no 60,000-element array.
  let levels = 1
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) {
    if (++levels > maxLevels) {
      return { ok: false, code: 'topic.too_many_levels', message: `topic has more than ${maxLevels} levels (ingest.maxTopicLevels); ${SHAPE}` }
    }
  }
  const parts = topic.split('/')
  if (parts.length !== 5) return invalid(`topic "${clip(topic)}" has ${parts.length} levels; ${SHAPE}`)
  const [root, version, site, deviceId, kind] = parts as [string, string, string, string, string]
  if (root !== 'stockyard') return invalid(`topic must start with "stockyard/"; ${SHAPE}`)
  if (version !== 'v1') return invalid(`topic version "${clip(version)}" is not supported; ${SHAPE} with v1`)
  if (!SITE.test(site)) return invalid(`site level "${clip(site)}" must be 1 to 64 letters, digits, _ or -`)
  if (!DEVICE.test(deviceId)) {
    return invalid(`deviceId level "${clip(deviceId)}" must be 1 to 128 letters, digits, . _ : or -, starting with a letter or digit`)
  }
  if (!KIND.test(kind)) return invalid(`kind level "${clip(kind)}" must be 1 to 64 letters, digits, _ or -`)
  return { ok: true, site, deviceId, kind }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s
}
