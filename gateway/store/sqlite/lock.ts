/**
 * One writer per data directory. Two gateways on one store would each fold rollups from memory and
 * count the same points twice, so the writer holds `gateway.lock` (its pid). A lock left by a process
 * that no longer exists (kill -9) is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { StockyardError } from '../../core/errors.ts'

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

/** Take the writer lock of `dataDir`; returns its release function. */
export function acquireWriterLock(dataDir: string): () => void {
  const path = join(dataDir, 'gateway.lock')
  let holder = NaN
  try {
    holder = Number(readFileSync(path, 'utf8').trim())
  } catch {
    // no lock file
  }
  if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) {
    throw new StockyardError('conflict', `another gateway (pid ${holder}) is using ${dataDir}; stop it first or choose another --data`)
  }
  writeFileSync(path, String(process.pid))
  return () => rmSync(path, { force: true })
}
