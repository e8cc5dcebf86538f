// The HTTP API as the page calls it: same origin, the session cookie (HttpOnly, set by POST
// /api/v1/session) and, for changes, the CSRF header the gateway asks of cookie sessions.

/** An API answer other than 2xx: its status and the gateway's `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** Call the API; resolves with the JSON body, rejects with an ApiError (or a network error). */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' }
  if (method !== 'GET') headers['x-stockyard-csrf'] = '1'
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' })
  const text = await res.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = null
  }
  if (!res.ok) throw new ApiError(res.status, json?.error?.code ?? 'http', json?.error?.message ?? `HTTP ${res.status}`)
  return json
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** `-6h`, `-30m`, `-7d` → epoch ms relative to `now`; anything else is returned unchanged. */
export function resolveTime(value, now = Date.now()) {
  const m = /^-(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(value)
  return m ? String(Math.round(now - Number(m[1]) * UNIT_MS[m[2]])) : value
}

const subst = (text, vars) => text.replace(/\$([a-z][a-z0-9-]*)/g, (all, name) => (name in vars ? vars[name] : all))

/**
 * The URL of a panel's query: `$var` replaced by the page's variables, `from`/`to` made absolute, and
 * a parameter whose variable is `*` (all) left out. Null when a path variable is `*` or empty.
 */
export function queryUrl(query, vars, now = Date.now()) {
  const enc = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, encodeURIComponent(v)]))
  const path = subst(query.path, enc)
  if (/\$[a-z]/.test(path) || Object.entries(vars).some(([k, v]) => (v === '*' || v === '') && query.path.includes('$' + k))) return null
  const params = new URLSearchParams()
  for (const [k, raw] of Object.entries(query.params ?? {})) {
    const usesAll = Object.entries(vars).some(([name, v]) => v === '*' && raw.includes('$' + name))
    if (usesAll) continue
    const v = subst(raw, vars)
    params.set(k, k === 'from' || k === 'to' ? resolveTime(v, now) : v)
  }
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}
