// Dark and light themes: the system's choice (prefers-color-scheme) unless the toggle picked one,
// remembered in localStorage. Charts read their colours from the CSS variables, so they are redrawn.

const KEY = 'stockyard-theme'
const MODES = ['auto', 'dark', 'light']
const media = matchMedia('(prefers-color-scheme: dark)')

function apply(mode, button) {
  if (mode === 'auto') delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = mode
  button.textContent = `Theme: ${mode}`
  button.title = mode === 'auto' ? `Follows the system (now ${media.matches ? 'dark' : 'light'}); click to change` : 'Click to change'
}

/** Wire the toggle button; `onChange()` after every change of the effective theme. */
export function initTheme(button, onChange) {
  let mode = localStorage.getItem(KEY)
  if (!MODES.includes(mode)) mode = 'auto'
  apply(mode, button)
  button.addEventListener('click', () => {
    mode = MODES[(MODES.indexOf(mode) + 1) % MODES.length]
    localStorage.setItem(KEY, mode)
    apply(mode, button)
    onChange()
  })
  media.addEventListener('change', () => {
    if (mode !== 'auto') return
    apply(mode, button)
    onChange()
  })
}
