/**
 * Runs the load generator in a child process, so the generator and the broker under test each
 * get a core. The child is `child.ts` under tsx; it exits by itself once it has answered.
 */
import { fork } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildReply, ChildRequest } from './child.ts'
import type { LoadHooks } from './run.ts'
import type { LoadOptions, LoadResult } from './types.ts'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '../..')

/**
 * Fork a generator, run `options` in it and resolve with its result. `hooks` fire (over IPC, so
 * within a millisecond or so) when sending starts and ends.
 * @example
 * const r = await runLoadInChild({ host: '127.0.0.1', port, site: 'bench', devices, mode: { kind: 'max' }, durationMs: 5000 })
 * console.log(r.rate, r.latencyMs.p99)
 */
export function runLoadInChild(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  const limitMs = options.durationMs + (options.drainMs ?? 5000) + (options.connectTimeoutMs ?? 5000) + 45_000
  return new Promise((resolvePromise, reject) => {
    // cwd = repo root so `--import tsx` resolves from our node_modules whatever the caller's cwd.
    const child = fork(resolve(here, 'child.ts'), [], { cwd: repoRoot, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let settled = false
    const settle = (fn: () => void): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      fn()
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      settle(() => reject(new Error(`loadgen child gave no result within ${limitMs} ms`)))
    }, limitMs)
    child.on('message', (reply: ChildReply) => {
      if (reply.type === 'started') hooks.onStart?.()
      else if (reply.type === 'send-ended') hooks.onSendEnd?.()
      else if (reply.type === 'result') settle(() => resolvePromise(reply.result))
      else settle(() => reject(new Error(reply.message)))
    })
    child.once('error', (err) => settle(() => reject(err)))
    // 'close' (not 'exit') comes after the IPC channel has delivered every message.
    child.once('close', (code, signal) => settle(() => reject(new Error(`loadgen child exited (${signal ?? code}) without a result`))))
    const request: ChildRequest = { type: 'run', options }
    child.send(request)
  })
}
