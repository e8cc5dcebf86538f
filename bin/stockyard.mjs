#!/usr/bin/env node
// Entry point of the `stockyard` CLI. The gateway is TypeScript run through tsx's loader, so the
// package needs no build step; this shim registers the loader and hands over to the CLI.
import { register } from 'tsx/esm/api'

register()
await import('../gateway/cli/main.ts')
