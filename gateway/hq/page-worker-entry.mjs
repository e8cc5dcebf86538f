// Worker threads do not inherit the tsx loader the CLI registered; register it here, then run the
// TypeScript worker.
import { register } from 'tsx/esm/api'

register()
await import('./page-worker.ts')
