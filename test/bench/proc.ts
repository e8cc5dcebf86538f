/**
 * Process plumbing for the bench: free ports, brokers spawned with a hard lifetime, their stdout
 * as lines, and RSS / CPU read from /proc. Everything here is bounded in time.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'

const TIMEOUT_BIN = '/usr/bin/timeout'

/** A port that was free a moment ago (bind 127.0.0.1:0, read it, close). For programs that need an explicit port. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Resolve once something accepts TCP connections on 127.0.0.1:port; throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`)
}

/** A child process with a lifetime bound, its output as lines (the last 200 kept) and a bounded stop. */
export class BoundedProcess {
  readonly child: ChildProcess
  readonly lines: string[] = []
  readonly exited: Promise<{ code: number | null; signal: string | null }>
  private readonly wrapped: boolean
  private lineListeners: Array<(line: string) => void> = []

  /** Spawn `cmd args`; under coreutils `timeout` when present, so it dies after `lifetimeS` even if we crash. */
  constructor(cmd: string, args: string[], opts: { lifetimeS: number; cwd?: string; stdin?: 'pipe' | 'ignore' }) {
    this.wrapped = existsSync(TIMEOUT_BIN)
    const [file, argv] = this.wrapped ? [TIMEOUT_BIN, ['-k', '10', String(opts.lifetimeS), cmd, ...args]] : [cmd, args]
    this.child = spawn(file, argv, { cwd: opts.cwd, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] })
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line)
        if (this.lines.length > 200) this.lines.shift()
        for (const l of this.lineListeners) l(line)
      })
    }
  }

  /** Wait (bounded) for a stdout/stderr line for which `pick` returns a value; rejects if the process exits first. */
  waitForLine<T>(pick: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.lineListeners = this.lineListeners.filter((l) => l !== listener)
      }
      const listener = (line: string): void => {
        let v: T | undefined
        try {
          v = pick(line)
        } catch {
          v = undefined // a line that is not what we look for
        }
        if (v !== undefined) {
          done()
          resolve(v)
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no expected output within ${timeoutMs} ms; last lines:\n${this.tail(8)}`))
      }, timeoutMs)
      this.lineListeners.push(listener)
      void this.exited.then(({ code, signal }) => {
        done()
        reject(new Error(`exited (${signal ?? code}) before it was ready; last lines:\n${this.tail(8)}`))
      })
    })
  }

  /** The pid of the program itself (not of the `timeout` wrapper): for /proc. */
  pid(): number {
    const outer = this.child.pid!
    if (!this.wrapped) return outer
    try {
      const kids = readFileSync(`/proc/${outer}/task/${outer}/children`, 'utf8').trim().split(/\s+/)
      if (kids[0]) return Number(kids[0])
    } catch {
      // fall through: the wrapper is gone or /proc lacks `children`
    }
    return outer
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL (wrapper and program). */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const inner = this.pid()
    kill(inner, 'SIGTERM')
    // Unref'd waits: a grace period that is not needed must not keep the bench alive after its end.
    const exited = await Promise.race([this.exited.then(() => true), sleep(graceMs, false, { ref: false })])
    if (!exited) {
      kill(inner, 'SIGKILL')
      kill(this.child.pid!, 'SIGKILL')
      await Promise.race([this.exited, sleep(2000, undefined, { ref: false })])
    }
  }

  tail(n: number): string {
    return this.lines.slice(-n).join('\n')
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

let clockTicks = 0
function clkTck(): number {
  if (!clockTicks) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** utime + stime of a process, in seconds; null if it is gone. */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // rest[0] is field 3 (state)
    return (Number(rest[11]) + Number(rest[12])) / clkTck() // fields 14 (utime) and 15 (stime)
  } catch {
    return null
  }
}

/** VmRSS of a process in MiB; null if it is gone. */
export function procRssMb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/**
 * CPU seconds the whole machine spent in processes since boot: user + nice + system + steal.
 * Interrupt time is left out: it is mostly our own loopback traffic and no process is charged for it.
 */
export function machineBusySeconds(): number {
  // cpu  user nice system idle iowait irq softirq steal ...
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  return (f[0]! + f[1]! + f[2]! + f[7]!) / clkTck()
}

/** Cores the whole machine keeps busy over `ms` (to see whether something else is running). */
export async function machineBusyCores(ms: number): Promise<number> {
  const b0 = machineBusySeconds()
  await sleep(ms)
  return (machineBusySeconds() - b0) / (ms / 1000)
}

export interface ProcessSample {
  rssPeakMb: number
  /** CPU of the sampled process, in cores. */
  cpuCores: number
  /** CPU of the whole machine over the same time, in cores. */
  machineCores: number
}

/** Samples a process's RSS every `everyMs` while running; `stop()` returns peak RSS and CPU used. */
export function sampleProcess(pid: number, everyMs = 250): { stop(): ProcessSample } {
  const cpu0 = procCpuSeconds(pid) ?? 0
  const busy0 = machineBusySeconds()
  const t0 = performance.now()
  let peak = procRssMb(pid) ?? 0
  const timer = setInterval(() => {
    peak = Math.max(peak, procRssMb(pid) ?? 0)
  }, everyMs)
  return {
    stop() {
      clearInterval(timer)
      peak = Math.max(peak, procRssMb(pid) ?? 0)
      const cpu = (procCpuSeconds(pid) ?? cpu0) - cpu0
      const s = (performance.now() - t0) / 1000
      return { rssPeakMb: peak, cpuCores: cpu / s, machineCores: (machineBusySeconds() - busy0) / s }
    },
  }
}
