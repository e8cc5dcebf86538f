/** The InfluxDB sink: the writer for the configured protocol, and the replicator that feeds it from the store. */
import type { Database } from 'better-sqlite3'
import type { Config } from '../../config/schema.ts'
import { Replicator, type ReplicatorOptions } from '../replicator.ts'
import { EventSource, PointSource } from '../sources.ts'
import type { LineWriter } from '../types.ts'
import { LineSchema } from './lines.ts'
import { InfluxV1Writer } from './v1.ts'
import { InfluxV2Writer } from './v2.ts'

/** The writer for `config.influx.protocol`. */
export function createInfluxWriter(cfg: Config['influx']): LineWriter {
  return cfg.protocol === 'v2' ? new InfluxV2Writer(cfg) : new InfluxV1Writer(cfg)
}

/** Replication of points and events to InfluxDB over `db` (the store's writer connection). */
export function createInfluxReplicator(
  db: Database,
  config: Readonly<Config>,
  opts: Pick<ReplicatorOptions, 'log' | 'retentionNow' | 'onRisk' | 'random'> & { writer?: LineWriter },
): Replicator {
  const schema = new LineSchema(config.influx.measurements)
  return new Replicator({
    db,
    name: 'influx',
    writer: opts.writer ?? createInfluxWriter(config.influx),
    sources: [new PointSource(db, schema), new EventSource(db, schema)],
    config: config.influx,
    retentionDays: { points: config.store.retention.rawDays, events: config.store.retention.eventDays },
    deadLetterMax: config.ingest.deadLetterMax,
    ...opts,
  })
}
