/**
 * Entry point of a forked generator process (see fork.ts). Protocol over the IPC channel: the
 * parent sends one `{ type: 'run', options }` (run.ts) or `{ type: 'heartbeats', options }`
 * (heartbeat.ts); we report `started` and `send-ended` as they happen, then one
 * `{ type: 'result', result }` or `{ type: 'error', message }`, and exit. We also exit if the parent
 * goes away, or after a hard deadline, so no generator outlives its bench.
 */
import { requestDeadlineMs } from './fork.ts'
import { runHeartbeats } from './heartbeat.ts'
import { runLoad } from './run.ts'
import type { HeartbeatOptions, HeartbeatResult, LoadOptions, LoadResult } from './types.ts'

export type ChildRequest = { type: 'run'; options: LoadOptions } | { type: 'heartbeats'; options: HeartbeatOptions }
export type ChildReply =
  { type: 'started' } | { type: 'send-ended' } | { type: 'result'; result: LoadResult | HeartbeatResult } | { type: 'error'; message: string }

if (!process.send) {
  process.stderr.write('simulators/loadgen/child.ts is meant to be forked (see fork.ts)\n')
  process.exit(2)
}

process.on('disconnect', () => process.exit(1))
// If no request arrives at all, do not wait forever.
const idle = setTimeout(() => process.exit(3), 30_000)

process.once('message', (msg: ChildRequest) => {
  clearTimeout(idle)
  const hardMs = requestDeadlineMs(msg) + 30_000
  setTimeout(() => process.exit(4), hardMs).unref()
  const reply = (r: ChildReply): void => {
    process.send!(r, () => process.exit(0))
  }
  const tell = (r: ChildReply): void => void process.send!(r)
  const hooks = { onStart: () => tell({ type: 'started' }), onSendEnd: () => tell({ type: 'send-ended' }) }
  const work: Promise<LoadResult | HeartbeatResult> = msg.type === 'run' ? runLoad(msg.options, hooks) : runHeartbeats(msg.options, hooks)
  work.then(
    (result) => reply({ type: 'result', result }),
    (err: unknown) => reply({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
  )
})
