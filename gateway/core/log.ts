/** pino JSON logging, one root logger per gateway with a child per component. */
import { pino, type Logger } from 'pino'

export type { Logger }

/** Create the root logger; `level: 'silent'` for tests that do not want output. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return destination ? pino({ level, base: { app: 'stockyard' } }, destination) : pino({ level, base: { app: 'stockyard' } })
}
