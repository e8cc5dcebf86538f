/**
 * One writer per data directory. Two writers on one store would each fold rollups from memory and
 * count the same points twice, so the writer holds `gateway.lock`, created exclusively (O_EXCL) and
 * holding its pid and the kernel's boot id. A lock whose process is gone, or that was written before
 * the last reboot (its pid may now belong to someone else), is stale and taken over.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { StockyardError } from '../../core/errors.ts'

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return ''
  }
}

/** Whether `pid` is a running process; a zombie (killed, not yet reaped by its parent) is not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // /proc/PID/stat: "pid (comm) S ..."; the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

function holder(path: string): { pid: number; boot: string } | null {
  try {
    const [pid, boot] = readFileSync(path, 'utf8').trim().split(/\s+/)
    return { pid: Number(pid), boot: boot ?? '' }
  } catch {
    return null
  }
}

/** Take the writer lock of `dataDir`; returns its release function. */
export function acquireWriterLock(dataDir: string): () => void {
  const path = join(dataDir, 'gateway.lock')
  const boot = bootId()
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, `${process.pid} ${boot}\n`)
      closeSync(fd)
      return () => rmSync(path, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const h = holder(path)
    const live = h !== null && Number.isInteger(h.pid) && h.boot === boot && (h.pid === process.pid || alive(h.pid))
    if (live && h.pid !== process.pid) {
      throw new StockyardError('conflict', `another gateway (pid ${h.pid}) is using ${dataDir}; stop it first or choose another --data`)
    }
    // Stale (or our own, from a store reopened in this process): remove and create it afresh.
    rmSync(path, { force: true })
  }
  throw new StockyardError('conflict', `could not take the writer lock ${path}; another gateway is starting on ${dataDir}`)
}
