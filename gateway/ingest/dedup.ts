/**
 * Duplicate detection by message identity: (device, seq, ts). A retransmission carries the same
 * seq and ts and is refused as `seq.duplicate`; a device whose counter restarted after a reboot
 * reuses a seq with a new ts and is accepted. Each device keeps its newest `perDevice` keys in
 * memory (a ring: the oldest is evicted in O(1)); the window is rebuilt from the store at boot.
 */
interface DeviceWindow {
  keys: Set<string>
  ring: string[]
  next: number
}

export class DedupWindow {
  private readonly byDevice = new Map<string, DeviceWindow>()

  constructor(private readonly perDevice: number) {}

  private static key(seq: number, ts: number): string {
    return `${seq}@${ts}`
  }

  has(device: string, seq: number, ts: number): boolean {
    return this.byDevice.get(device)?.keys.has(DedupWindow.key(seq, ts)) ?? false
  }

  add(device: string, seq: number, ts: number): void {
    if (this.perDevice === 0) return
    let w = this.byDevice.get(device)
    if (!w) {
      w = { keys: new Set(), ring: [], next: 0 }
      this.byDevice.set(device, w)
    }
    const key = DedupWindow.key(seq, ts)
    if (w.keys.has(key)) return
    if (w.ring.length < this.perDevice) w.ring.push(key)
    else {
      // Evict the oldest. (A Set's first entry would also be the oldest, but reaching it through
      // values().next() walks over every deleted slot before it: O(n) per eviction in V8.)
      w.keys.delete(w.ring[w.next]!)
      w.ring[w.next] = key
      w.next = (w.next + 1) % this.perDevice
    }
    w.keys.add(key)
  }

  /** Forget a key added for a message whose commit then failed (it will be resent). */
  remove(device: string, seq: number, ts: number): void {
    // The ring slot stays; evicting a key that is no longer in the set is harmless.
    this.byDevice.get(device)?.keys.delete(DedupWindow.key(seq, ts))
  }

  /** Rebuild from stored keys given newest first. */
  load(keys: Iterable<{ device: string; seq: number; ts: number }>): void {
    const newestFirst = [...keys]
    for (let i = newestFirst.length - 1; i >= 0; i--) {
      const k = newestFirst[i]!
      this.add(k.device, k.seq, k.ts)
    }
  }
}
