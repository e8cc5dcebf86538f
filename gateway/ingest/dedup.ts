/**
 * Duplicate detection by message identity: (device, seq, ts). A retransmission carries the same
 * seq and ts and is refused as `seq.duplicate`; a device whose counter restarted after a reboot
 * reuses a seq with a new ts and is accepted. Each device keeps its newest `perDevice` keys in
 * memory (insertion order, oldest evicted); the window is rebuilt from the store at boot.
 */
export class DedupWindow {
  private readonly byDevice = new Map<string, Set<string>>()

  constructor(private readonly perDevice: number) {}

  private static key(seq: number, ts: number): string {
    return `${seq}@${ts}`
  }

  has(device: string, seq: number, ts: number): boolean {
    return this.byDevice.get(device)?.has(DedupWindow.key(seq, ts)) ?? false
  }

  add(device: string, seq: number, ts: number): void {
    if (this.perDevice === 0) return
    let set = this.byDevice.get(device)
    if (!set) {
      set = new Set()
      this.byDevice.set(device, set)
    }
    set.add(DedupWindow.key(seq, ts))
    if (set.size > this.perDevice) {
      // A Set iterates in insertion order, so the first entry is the oldest.
      set.delete(set.values().next().value as string)
    }
  }

  remove(device: string, seq: number, ts: number): void {
    this.byDevice.get(device)?.delete(DedupWindow.key(seq, ts))
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
