/** What the broker knows about a connected client, attached at CONNECT. */
import type { InternalClient } from '../config/schema.ts'

export type Identity =
  | { type: 'device'; deviceId: string; site: string; zone: string; secret: string }
  | { type: 'internal'; username: string; rights: Pick<InternalClient, 'publish' | 'subscribe'> }
  | { type: 'anonymous' }

const IDENTITY = Symbol('stockyard.identity')

export function setIdentity(client: object, id: Identity): void {
  ;(client as Record<symbol, Identity>)[IDENTITY] = id
}

export function identityOf(client: object | null | undefined): Identity | undefined {
  return client ? (client as Record<symbol, Identity | undefined>)[IDENTITY] : undefined
}
