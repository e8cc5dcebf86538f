/**
 * The contract every `LineWriter` passes (house style §5), run against a real server for each: the
 * v1 writer against influxd, the v2 writer against VictoriaMetrics (see sink-writers.test.ts).
 * The replicator's guarantees rest on these three answers: `ok` means stored, writing the same lines
 * again changes nothing, and a server that cannot be reached is `retry`, never a refusal.
 */
import { describe, expect, it } from 'vitest'
import type { LineWriter } from '../../gateway/sink/types.ts'

export interface LineWriterFixture {
  writer: LineWriter
  /** A writer for the same target on a port where nothing listens. */
  unreachable: LineWriter
  /** Count and sum of the samples stored for one measurement and field, read back from the server. */
  readBack(measurement: string, field: string): Promise<{ count: number; sum: number }>
}

const T0 = Date.UTC(2026, 10, 1)

export function runLineWriterContract(name: string, fixture: () => LineWriterFixture): void {
  describe(`LineWriter contract: ${name}`, () => {
    it('answers ok once the lines are stored, and they read back', async () => {
      const f = fixture()
      const lines = Array.from({ length: 1000 }, (_, i) => `contract_a,device=d${i % 4},site=s1 v=${i / 2} ${T0 + i * 1000}`)
      expect(await f.writer.write(lines)).toEqual({ kind: 'ok' })
      expect(await f.readBack('contract_a', 'v')).toEqual({ count: 1000, sum: (999 * 1000) / 4 })
    })

    it('keeps one point per measurement, tags and timestamp: writing the same lines again changes nothing', async () => {
      const f = fixture()
      const lines = Array.from({ length: 50 }, (_, i) => `contract_b,device=d1,site=s1 v=${i} ${T0 + i * 1000}`)
      expect(await f.writer.write(lines)).toEqual({ kind: 'ok' })
      expect(await f.writer.write(lines.slice(10, 30))).toEqual({ kind: 'ok' })
      expect(await f.readBack('contract_b', 'v')).toEqual({ count: 50, sum: (49 * 50) / 2 })
    })

    it('answers retry, never a refusal, when the server cannot be reached', async () => {
      const f = fixture()
      const result = await f.unreachable.write([`contract_c v=1 ${T0}`])
      expect(result.kind).toBe('retry')
      expect(result.kind === 'retry' && result.reason).toMatch(/ECONNREFUSED|network error|connect/i)
    })
  })
}
