/**
 * Test helpers that drive the real `stockyard` command as child processes: one-shot CLI commands
 * (bounded by a timeout) and a long-running `stockyard start` whose lifetime is bounded by coreutils
 * `timeout`, so a crashed test run cannot leave a gateway behind.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

export const REPO = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/stockyard.mjs', import.meta.url))
const TIMEOUT_BIN = '/usr/bin/timeout'

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `stockyard ...args` to completion (killed after `timeoutMs`); never rejects on a non-zero exit. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO, env: { ...cleanEnv(), ...opts.env }, timeout: opts.timeoutMs ?? 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Run a CLI command that must succeed and print one JSON document. */
export async function cliJson<T = unknown>(args: string[]): Promise<T> {
  const r = await runCli(args)
  if (r.code !== 0) throw new Error(`stockyard ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** The environment without STOCKYARD_* variables of whoever runs the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('STOCKYARD_')) env[k] = v
  return env
}

export interface ReadyLine {
  ports: { mqtt: number; ws: number; http: number }
}

/**
 * A `stockyard start` child. It runs in a process group of its own (under `timeout --foreground`
 * when available), so `kill9()` is a kill -9 of the whole gateway and `term()` delivers exactly
 * one SIGTERM to it.
 */
export class GatewayProcess {
  readonly child: ChildProcess
  /** Every stdout/stderr line so far. */
  readonly lines: string[] = []
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private listeners: Array<(line: string) => void> = []
  private exitedNow = false

  constructor(args: string[], opts: { lifetimeS?: number; env?: NodeJS.ProcessEnv } = {}) {
    const node = [process.execPath, BIN, 'start', ...args]
    // --foreground: forward a received SIGTERM once, to node only (otherwise it would also signal
    // the whole group, and a second SIGTERM makes `start` exit at once with code 1).
    const [file, argv] = existsSync(TIMEOUT_BIN) ? [TIMEOUT_BIN, ['--foreground', '-k', '5', String(opts.lifetimeS ?? 60), ...node]] : [node[0]!, node.slice(1)]
    this.child = spawn(file, argv, { cwd: REPO, env: { ...cleanEnv(), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exitedNow = true
        resolve({ code, signal })
      }),
    )
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line)
        for (const l of this.listeners) l(line)
      })
    }
  }

  /** Start a gateway and wait (bounded) for its "stockyard ready" log line. */
  static async start(
    args: string[],
    opts: { lifetimeS?: number; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number } = {},
  ): Promise<{ gw: GatewayProcess; ready: ReadyLine }> {
    const gw = new GatewayProcess(args, opts)
    try {
      const ready = await gw.waitForLog((l) => l.msg === 'stockyard ready', opts.readyTimeoutMs ?? 20_000)
      return { gw, ready: ready as unknown as ReadyLine }
    } catch (err) {
      gw.kill9()
      await gw.exited
      throw err
    }
  }

  /** Wait for a pino JSON line matching `pick`; rejects on timeout or exit, with the output so far. */
  waitForLog(pick: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = (line: string): boolean => {
        let parsed: Record<string, unknown>
        try {
          parsed = JSON.parse(line) as Record<string, unknown>
        } catch {
          return false
        }
        if (!pick(parsed)) return false
        finish()
        resolve(parsed)
        return true
      }
      const finish = (): void => {
        clearTimeout(timer)
        this.listeners = this.listeners.filter((l) => l !== listener)
      }
      const listener = (line: string): void => void check(line)
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`no matching log line after ${timeoutMs} ms; output:\n${this.lines.join('\n')}`))
      }, timeoutMs)
      for (const line of this.lines) if (check(line)) return
      this.listeners.push(listener)
      void this.exited.then(({ code, signal }) => {
        if (!this.listeners.includes(listener)) return
        finish()
        reject(new Error(`gateway exited (code ${code}, signal ${signal}) before the expected log line; output:\n${this.lines.join('\n')}`))
      })
    })
  }

  /** kill -9 the gateway (its whole process group). */
  kill9(): void {
    if (this.exitedNow || this.child.pid === undefined) return
    try {
      process.kill(-this.child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }

  /** One SIGTERM, as an init system would send. */
  term(): void {
    if (!this.exitedNow) this.child.kill('SIGTERM')
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves with how it exited. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.term()
    const timer = setTimeout(() => this.kill9(), graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}
