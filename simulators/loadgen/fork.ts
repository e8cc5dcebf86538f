/**
 * Runs the load generator in a child process, so the generator and the broker under test each
 * get a core. The child is `child.ts` under tsx; it exits by itself once it has answered.
 */
import { fork } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildReply, ChildRequest } from './child.ts'
import type { LoadHooks } from './run.ts'
import type { HeartbeatOptions, HeartbeatResult, LoadOptions, LoadResult } from './types.ts'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '../..')

/** How long a request may run at most (connects, sending, drain); the child adds 30 s, the parent 45 s. */
export function requestDeadlineMs(req: ChildRequest): number {
  const o = req.options
  if (req.type === 'run') return o.durationMs + (o.drainMs ?? 5000) + (o.connectTimeoutMs ?? 5000)
  // Connects go in waves of `connectConcurrency`, each bounded by the connect timeout.
  const waves = Math.ceil(req.options.devices.length / (req.options.connectConcurrency ?? 100))
  return o.durationMs + (o.drainMs ?? 5000) + Math.min(waves * (o.connectTimeoutMs ?? 30_000), 300_000) + 30_000
}

/**
 * Fork a generator, run `options` in it and resolve with its result. `hooks` fire (over IPC, so
 * within a millisecond or so) when sending starts and ends.
 * @example
 * const r = await runLoadInChild({ host: '127.0.0.1', port, site: 'bench', devices, mode: { kind: 'max' }, durationMs: 5000 })
 * console.log(r.rate, r.latencyMs.p99)
 */
export function runLoadInChild(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  return inChild({ type: 'run', options }, hooks) as Promise<LoadResult>
}

/**
 * Fork a generator that connects every device and sends heartbeats (heartbeat.ts). `onStart` fires
 * once every device is connected (or has failed to), `onSendEnd` when the heartbeats stop.
 */
export function runHeartbeatsInChild(options: HeartbeatOptions, hooks: LoadHooks = {}): Promise<HeartbeatResult> {
  return inChild({ type: 'heartbeats', options }, hooks) as Promise<HeartbeatResult>
}

function inChild(request: ChildRequest, hooks: LoadHooks): Promise<LoadResult | HeartbeatResult> {
  const limitMs = requestDeadlineMs(request) + 45_000
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
    child.send(request)
  })
}
