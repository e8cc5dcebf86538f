/** HTTP bearer tokens with roles. Only SHA-256 of each token is stored (see auth/secrets.ts for why not scrypt). */
import { randomBytes } from 'node:crypto'
import type { Database, Statement } from 'better-sqlite3'
import { randomSecret, sha256 } from '../../auth/secrets.ts'
import { StockyardError } from '../../core/errors.ts'
import { ROLES, type Role, type TokenStore } from '../types.ts'

export class SqliteTokenStore implements TokenStore {
  private readonly st: Record<string, Statement>

  constructor(
    db: Database,
    private readonly now: () => number,
  ) {
    this.st = {
      insert: db.prepare('INSERT INTO tokens (id, hash, role, name, created_at) VALUES (?, ?, ?, ?, ?)'),
      byHash: db.prepare('SELECT id, role FROM tokens WHERE hash = ?'),
      list: db.prepare('SELECT id, role, name, created_at AS createdAt FROM tokens ORDER BY created_at'),
      revoke: db.prepare('DELETE FROM tokens WHERE id = ?'),
    }
  }

  /** `sy_<id>_<secret>`: the id part lets operators name a token in logs without revealing it. */
  add(role: Role, name = ''): { id: string; token: string; role: Role } {
    if (!ROLES.includes(role)) throw new StockyardError('request.invalid', `role must be one of ${ROLES.join(', ')}`)
    // Hex, so an id never starts with '-' (taken for a flag by `tokens revoke --id`) nor holds '_'.
    const id = randomBytes(6).toString('hex')
    const token = `sy_${id}_${randomSecret(32)}`
    this.st.insert!.run(id, sha256(token), role, name, this.now())
    return { id, token, role }
  }

  /**
   * Accept an existing token (made by `add` on another store), so one token works at many sites (HQ's
   * puller). Its id is the one it carries; a token already here is refused.
   */
  import(token: string, role: Role, name = ''): { id: string; role: Role } {
    if (!ROLES.includes(role)) throw new StockyardError('request.invalid', `role must be one of ${ROLES.join(', ')}`)
    const m = /^sy_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/.exec(token)
    if (!m) throw new StockyardError('request.invalid', 'not a Stockyard token (sy_<12 hex>_<43 base64url>), as `stockyard tokens add` prints it')
    if (this.verify(token)) throw new StockyardError('conflict', `token ${m[1]} is already here`)
    this.st.insert!.run(m[1], sha256(token), role, name, this.now())
    return { id: m[1]!, role }
  }

  verify(token: string): { id: string; role: Role } | null {
    if (!token.startsWith('sy_') || token.length > 200) return null
    return (this.st.byHash!.get(sha256(token)) as { id: string; role: Role } | undefined) ?? null
  }

  list(): Array<{ id: string; role: Role; name: string; createdAt: number }> {
    return this.st.list!.all() as Array<{ id: string; role: Role; name: string; createdAt: number }>
  }

  revoke(id: string): boolean {
    return this.st.revoke!.run(id).changes > 0
  }
}
