/** The in-memory duplicate window: identity is (device, seq, ts), bounded per device, oldest evicted first. */
import { describe, expect, it } from 'vitest'
import { DedupWindow } from '../gateway/ingest/dedup.ts'

describe('DedupWindow', () => {
  it('knows a (seq, ts) it has seen for that device only', () => {
    const w = new DedupWindow(10)
    w.add('a', 1, 1000)
    expect(w.has('a', 1, 1000)).toBe(true)
    expect(w.has('b', 1, 1000)).toBe(false)
    // A restarted counter reuses seq 1 with a new ts: a new message.
    expect(w.has('a', 1, 2000)).toBe(false)
  })

  it('keeps the newest perDevice keys and evicts the oldest first, over many wraps of the ring', () => {
    const w = new DedupWindow(100)
    for (let seq = 0; seq < 10_000; seq++) w.add('a', seq, seq)
    for (let seq = 0; seq < 9_900; seq += 97) expect(w.has('a', seq, seq)).toBe(false)
    for (let seq = 9_900; seq < 10_000; seq++) expect(w.has('a', seq, seq)).toBe(true)
  })

  it('forgets a removed key (a commit that failed) so the resend is accepted', () => {
    const w = new DedupWindow(10)
    w.add('a', 5, 50)
    w.remove('a', 5, 50)
    expect(w.has('a', 5, 50)).toBe(false)
  })

  it('rebuilds from stored keys given newest first, keeping the newest when over capacity', () => {
    const w = new DedupWindow(2)
    w.load([
      { device: 'a', seq: 3, ts: 3 },
      { device: 'a', seq: 2, ts: 2 },
      { device: 'a', seq: 1, ts: 1 },
    ])
    expect([1, 2, 3].map((s) => w.has('a', s, s))).toEqual([false, true, true])
  })

  it('remembers nothing with perDevice 0', () => {
    const w = new DedupWindow(0)
    w.add('a', 1, 1)
    expect(w.has('a', 1, 1)).toBe(false)
  })
})
