/**
 * The built-in dashboards' static files: `GET /` is the page (`gateway/ui/index.html`), `GET /ui/*` its
 * scripts and styles from `gateway/ui/`, and `GET /ui/vendor/*` the few files taken from npm packages
 * (uPlot), so the page needs nothing from the internet. Public: the files hold no data, every API call
 * the page makes needs the session. Not API routes, so not in `ROUTES` or the OpenAPI document.
 *
 * Safety: a path is looked up only in a fixed root; any `..`, backslash, NUL or hidden segment is a 404.
 * Caching: page files are revalidated on every load (`no-cache` with an ETag), so an upgrade shows at
 * once; vendor files carry their package version in the ETag and are cached for a day.
 */
import { readFile, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, extname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Context, Hono } from 'hono'
import { StockyardError } from '../core/errors.ts'

const UI_ROOT = fileURLToPath(new URL('../ui/', import.meta.url))
const UPLOT_DIST = dirname(createRequire(import.meta.url).resolve('uplot'))

/** Files served under `/ui/vendor/`: public name → absolute path in node_modules. */
export const VENDOR_FILES: Readonly<Record<string, string>> = {
  'uplot.esm.js': join(UPLOT_DIST, 'uPlot.esm.js'),
  'uplot.min.css': join(UPLOT_DIST, 'uPlot.min.css'),
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

/** Only this origin's scripts, styles and API: a page that tried a CDN would fail loudly in the browser. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

/** The file under `root` that `rel` names, or null when `rel` tries to leave it or names a hidden file. */
export function safeJoin(root: string, rel: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(rel)
  } catch {
    return null
  }
  if (decoded === '' || decoded.includes('\\') || decoded.includes('\0')) return null
  const parts = decoded.split('/')
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.startsWith('.'))) return null
  const full = join(root, ...parts)
  return full.startsWith(root.endsWith(sep) ? root : root + sep) ? full : null
}

async function sendFile(c: Context, file: string, cacheControl: string): Promise<Response> {
  const type = CONTENT_TYPES[extname(file)]
  let info
  try {
    info = await stat(file)
  } catch {
    info = null
  }
  if (!type || !info?.isFile()) throw new StockyardError('not_found', `no file ${c.req.path}`)
  const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`
  const headers: Record<string, string> = {
    'content-type': type,
    'cache-control': cacheControl,
    etag,
    'x-content-type-options': 'nosniff',
  }
  if (type.startsWith('text/html')) headers['content-security-policy'] = CSP
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers)
  return c.body(await readFile(file), 200, headers)
}

/**
 * Mount `GET /` and `GET /ui/*` on the app (call before `notFound`).
 * @example mountUiAssets(app) // then http://127.0.0.1:8080/ opens the dashboards
 */
export function mountUiAssets(app: Hono): void {
  app.get('/', (c) => sendFile(c, join(UI_ROOT, 'index.html'), 'no-cache'))
  app.get('/ui/*', (c) => {
    const rel = c.req.path.slice('/ui/'.length)
    if (rel.startsWith('vendor/')) {
      const file = VENDOR_FILES[rel.slice('vendor/'.length)]
      if (!file) throw new StockyardError('not_found', `no file ${c.req.path}`)
      return sendFile(c, file, 'public, max-age=86400')
    }
    const file = safeJoin(UI_ROOT, rel)
    if (file === null) throw new StockyardError('not_found', `no file ${c.req.path}`)
    return sendFile(c, file, 'no-cache')
  })
}
