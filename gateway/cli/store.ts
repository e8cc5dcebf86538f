/** Open the store of a data dir for one CLI command (safe while the gateway runs: WAL + busy_timeout). */
import { openSqliteStore, type SqliteStore } from '../store/sqlite/index.ts'

export async function withStore<T>(dataDir: string | undefined, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = openSqliteStore({ dataDir: dataDir ?? process.env.STOCKYARD_DATA_DIR ?? './data', synchronous: 'NORMAL' })
  try {
    return await fn(store)
  } finally {
    store.close()
  }
}
