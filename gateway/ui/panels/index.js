// The panel registry: type (as in dashboards/*.json) → renderer. A renderer is
// `render(body, panel, data, ctx)`: draw `data` (the panel's query answer) into `body`; `ctx` has the
// `session` ({ role, name }) and `refresh()` (re-read the page). A new type is one module and one line here.
import * as alertlist from './alertlist.js'
import * as forecast from './forecast.js'
import * as stat from './stat.js'
import * as stockbar from './stockbar.js'
import * as table from './table.js'
import * as timeline from './timeline.js'
import * as timeseries from './timeseries.js'

export const PANELS = { timeseries, stat, table, alertlist, stockbar, timeline, forecast }
