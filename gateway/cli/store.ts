/** Open the store of a data dir for one CLI command (a reader: safe while the gateway runs, WAL + busy_timeout). */
import { loadConfig } from '../config/load.ts'
import type { Config } from '../config/schema.ts'
import { openSqliteStore, type SqliteStore } from '../store/sqlite/index.ts'

export async function withStore<T>(
  dataDir: string | undefined,
  configFile: string | undefined,
  fn: (store: SqliteStore, config: Readonly<Config>) => Promise<T>,
): Promise<T> {
  // --data wins over STOCKYARD_DATA_DIR, which wins over the config file, as for `start`.
  const config = loadConfig({ file: configFile, env: process.env, overrides: dataDir === undefined ? {} : { dataDir } })
  const store = openSqliteStore({ dataDir: config.dataDir, synchronous: config.store.synchronous })
  try {
    return await fn(store, config)
  } finally {
    store.close()
  }
}
