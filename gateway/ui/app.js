// Stockyard's built-in dashboards: login with an access token (cookie session), navigation from the
// definitions in dashboards/*.json, one page at a time (`#/page-id?var=value`), and live updates.
// Plain browser modules, no build step; every asset comes from this gateway.
import { ApiError, api } from './api.js'
import { TIME_ZONE, h } from './format.js'
import { affected, openLive } from './live.js'
import { Page } from './page.js'
import { initTheme } from './theme.js'

const $ = (id) => document.getElementById(id)
const state = { session: null, defs: [], page: null, closeLive: null, slideTimer: 0, staleWhileHidden: false }

/** `#/stock?sku=SKU-1` → { id: 'stock', params: { sku: 'SKU-1' } }. */
function parseHash() {
  const [id, qs] = location.hash.replace(/^#\/?/, '').split('?')
  return { id: decodeURIComponent(id ?? ''), params: Object.fromEntries(new URLSearchParams(qs ?? '')) }
}

function showLogin(message = '') {
  stopLive()
  state.page?.dispose()
  state.page = null
  state.session = null
  $('nav').replaceChildren()
  $('vars').replaceChildren()
  $('who').textContent = ''
  $('logout').hidden = true
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, placeholder: 'sy_…' })
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' }, message)
  const form = h(
    'form',
    { id: 'login', class: 'login' },
    h('h1', {}, 'Log in'),
    h(
      'p',
      { class: 'muted' },
      'Paste an access token (from `stockyard tokens add`). A viewer token shows the dashboards; acknowledging and silencing need admin.',
    ),
    h('label', { for: 'token' }, 'Access token'),
    input,
    h('button', { class: 'btn primary', type: 'submit' }, 'Log in'),
    error,
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    error.textContent = ''
    api('/api/v1/session', { method: 'POST', body: { token: input.value.trim() } }).then(
      () => start(),
      (err) => {
        error.textContent = err instanceof ApiError && err.status === 401 ? 'That token is not valid (unknown or revoked).' : `Login failed: ${err.message}`
      },
    )
  })
  $('main').replaceChildren(form)
  input.focus()
}

async function loadDefinitions() {
  const r = await api('/api/v1/dashboards')
  state.defs = [...r.dashboards].sort((a, b) => a.order - b.order || a.id.localeCompare(b.id))
  $('site').textContent = r.site ? `· ${r.site}` : ''
  const banner = $('banner')
  banner.hidden = r.errors.length === 0
  banner.replaceChildren(
    ...(r.errors.length
      ? [
          h('strong', {}, 'Some dashboard files are invalid; the last valid set is shown.'),
          h(
            'ul',
            {},
            r.errors.map((e) => h('li', {}, e)),
          ),
        ]
      : []),
  )
  $('nav').replaceChildren(...state.defs.map((d) => h('a', { href: `#/${d.id}`, 'data-page': d.id }, d.title)))
  // Admins also get the embedded Node-RED editor, when the gateway runs it.
  if (state.session.role === 'admin') {
    const status = await api('/api/v1/status').catch(() => null)
    if (status?.nodeRed?.enabled)
      $('nav').append(h('a', { href: status.nodeRed.editor, id: 'nav-flows', title: 'Node-RED flows (opens the editor)' }, 'Flows ↗'))
  }
}

async function route() {
  if (!state.session) return
  const { id, params } = parseHash()
  const def = state.defs.find((d) => d.id === id) ?? (id === '' ? state.defs[0] : undefined)
  for (const a of $('nav').children) a.classList.toggle('active', a.dataset.page === def?.id)
  state.page?.dispose()
  state.page = null
  if (!def) {
    $('vars').replaceChildren()
    $('main').replaceChildren(h('p', { class: 'muted' }, state.defs.length ? `There is no page “${id}”.` : 'No dashboards are defined (dashboards/*.json).'))
    return
  }
  document.title = `${def.title} · Stockyard`
  const page = new Page(def, params, {
    session: state.session,
    onVars: (vars) => {
      location.hash = `#/${def.id}?${new URLSearchParams(vars)}`
    },
    onAuthLost: () => showLogin('Your session has ended; log in again.'),
  })
  state.page = page
  await page.mount($('vars'), $('main'))
}

function setLive(status) {
  const el = $('live')
  el.dataset.state = status
  el.title = { on: 'Live updates on', reconnecting: 'Live updates reconnecting…', closed: 'Live updates stopped; reload the page' }[status] ?? status
}

function startLive() {
  stopLive()
  state.closeLive = openLive({
    // An alert change: the alert panels (lists and counts) at once.
    onAlert: () => void state.page?.refresh(state.page.panelsWhere((path) => affected(path, ['alert']))),
    // Committed data: only the panels those kinds concern.
    onData: (kinds) => {
      if (document.hidden) state.staleWhileHidden = true
      else void state.page?.refresh(state.page.panelsWhere((path) => affected(path, kinds)))
    },
    onState: (status) => {
      setLive(status)
      if (status === 'closed') void checkSession()
    },
  })
  // Relative windows (`from: -6h`) slide: re-read those panels once a minute.
  state.slideTimer = setInterval(() => {
    if (!document.hidden) void state.page?.refresh(state.page.panelsWhere((_, def) => Object.values(def.query.params ?? {}).some((v) => v.startsWith('-'))))
  }, 60_000)
}

function stopLive() {
  state.closeLive?.()
  state.closeLive = null
  clearInterval(state.slideTimer)
}

async function checkSession() {
  try {
    await api('/api/v1/session')
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin('Your session has ended; log in again.')
  }
}

async function start() {
  try {
    state.session = await api('/api/v1/session')
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin()
    $('main').replaceChildren(h('p', { class: 'error' }, `The gateway did not answer: ${err.message}`))
    return
  }
  $('who').textContent = `${state.session.name || 'signed in'} · ${state.session.role}`
  $('who').dataset.role = state.session.role
  $('logout').hidden = false
  await loadDefinitions()
  startLive()
  await route()
}

initTheme($('theme'), () => state.page?.redraw())
$('footer').textContent = `Times are shown in ${TIME_ZONE} (this browser’s time zone).`
$('logout').addEventListener('click', () => {
  api('/api/v1/session', { method: 'DELETE' }).then(
    () => showLogin(),
    () => showLogin(),
  )
})
window.addEventListener('hashchange', () => {
  if (!state.session) return
  const same = state.page && parseHash().id === state.page.def.id
  // A new page re-reads the definitions, so an edited file shows on navigation too.
  void (same ? route() : loadDefinitions().then(route, (err) => $('main').replaceChildren(h('p', { class: 'error' }, err.message))))
})
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.staleWhileHidden) {
    state.staleWhileHidden = false
    void state.page?.refresh()
  }
})
void start()
