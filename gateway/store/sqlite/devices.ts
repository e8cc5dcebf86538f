/** The device registry: identities, scrypt-hashed passwords, and liveness. */
import type { Database, Statement } from 'better-sqlite3'
import { hashSecret, randomSecret, sha256, verifySecret } from '../../auth/secrets.ts'
import { StockyardError } from '../../core/errors.ts'
import type { Device, DeviceCredentials, DeviceKind, DeviceRegistry } from '../types.ts'

interface Row {
  id: string
  kind: DeviceKind
  site: string
  zone: string
  username: string
  secret: string
  disabled: number
  created_at: number
  last_seen: number | null
  status: Device['status']
  battery: number | null
  firmware: string | null
}

const ID = /^[A-Za-z0-9_-]{1,64}$/

function toDevice(r: Row): Device {
  return {
    id: r.id,
    kind: r.kind,
    site: r.site,
    zone: r.zone,
    username: r.username,
    disabled: r.disabled === 1,
    createdAt: r.created_at,
    lastSeen: r.last_seen,
    status: r.status,
    battery: r.battery,
    firmware: r.firmware,
  }
}

export class SqliteDeviceRegistry implements DeviceRegistry {
  private readonly st: Record<string, Statement>
  /**
   * Verified passwords, as SHA-256 of the clear text keyed by device, in memory only: scrypt costs
   * ~50 ms, and a reconnect storm of thousands of devices must not cost minutes of CPU. An entry is
   * dropped when the stored hash changes (rotate) or the device is disabled.
   */
  private readonly verified = new Map<string, { secret: string; digest: string }>()
  /** Called after this process disables or rotates a device (other processes show up in PRAGMA data_version instead). */
  private readonly revokedListeners: Array<(id: string) => void> = []

  constructor(
    db: Database,
    private readonly now: () => number,
  ) {
    this.st = {
      insert: db.prepare('INSERT INTO devices (id, kind, site, zone, username, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      get: db.prepare('SELECT * FROM devices WHERE id = ?'),
      byUser: db.prepare('SELECT * FROM devices WHERE username = ?'),
      list: db.prepare('SELECT * FROM devices ORDER BY id'),
      setDisabled: db.prepare('UPDATE devices SET disabled = ? WHERE id = ?'),
      setSecret: db.prepare('UPDATE devices SET secret = ? WHERE id = ?'),
      setStatus: db.prepare('UPDATE devices SET status = ?, last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?'),
      allOffline: db.prepare(`UPDATE devices SET status = 'offline' WHERE status = 'online'`),
      bumpVersion: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('registry_version', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
      ),
      version: db.prepare(`SELECT value FROM meta WHERE key = 'registry_version'`).pluck(),
      setHealth: db.prepare('UPDATE devices SET battery = coalesce(?, battery), firmware = coalesce(?, firmware) WHERE id = ?'),
    }
  }

  async add(input: { id: string; kind: DeviceKind; site: string; zone: string }): Promise<DeviceCredentials> {
    if (!ID.test(input.id)) throw new StockyardError('request.invalid', `device id must match ${ID.source}`)
    // A device may publish under stockyard/v1/{site}/{id}/: one named `alerts` could write into the alert topics.
    if (input.id === 'alerts')
      throw new StockyardError('request.invalid', "device id alerts is reserved: stockyard/v1/{site}/alerts/ carries the gateway's alerts")
    if (!ID.test(input.site)) throw new StockyardError('request.invalid', `site must match ${ID.source}`)
    if (!ID.test(input.zone)) throw new StockyardError('request.invalid', `zone must match ${ID.source}`)
    if (this.get(input.id)) throw new StockyardError('conflict', `device ${input.id} already exists`)
    const password = randomSecret()
    this.st.insert!.run(input.id, input.kind, input.site, input.zone, input.id, await hashSecret(password), this.now())
    return { id: input.id, username: input.id, password }
  }

  get(id: string): Device | null {
    const r = this.st.get!.get(id) as Row | undefined
    return r ? toDevice(r) : null
  }

  list(): Device[] {
    return (this.st.list!.all() as Row[]).map(toDevice)
  }

  private mustExist(id: string): void {
    if (!this.st.get!.get(id)) throw new StockyardError('not_found', `no device ${id}`)
  }

  disable(id: string): void {
    this.mustExist(id)
    this.st.setDisabled!.run(1, id)
    this.st.bumpVersion!.run()
    this.verified.delete(id)
    this.revoked(id)
  }

  enable(id: string): void {
    this.mustExist(id)
    this.st.setDisabled!.run(0, id)
    this.st.bumpVersion!.run()
  }

  async rotate(id: string): Promise<DeviceCredentials> {
    this.mustExist(id)
    const password = randomSecret()
    this.st.setSecret!.run(await hashSecret(password), id)
    this.st.bumpVersion!.run()
    this.verified.delete(id)
    this.revoked(id)
    return { id, username: id, password }
  }

  /**
   * Run `fn` whenever this registry disables a device or rotates its password, so live sessions can
   * be dropped at once. PRAGMA data_version does not change for writes made on the same connection.
   */
  /**
   * Changes with every disable, enable and rotate, from any process (the CLI included); the
   * gateway polls it to drop sessions whose credentials were revoked elsewhere.
   */
  version(): number {
    return Number(this.st.version!.get() ?? 0)
  }

  onRevoked(fn: (id: string) => void): void {
    this.revokedListeners.push(fn)
  }

  private revoked(id: string): void {
    for (const fn of this.revokedListeners) fn(id)
  }

  async verify(username: string, password: string): Promise<{ device: Device; secret: string } | { refused: 'unknown' | 'bad_password' | 'disabled' }> {
    const r = this.st.byUser!.get(username) as Row | undefined
    if (!r) return { refused: 'unknown' }
    const cached = this.verified.get(r.id)
    const digest = sha256(password)
    let ok = cached !== undefined && cached.secret === r.secret && cached.digest === digest
    if (!ok) {
      ok = await verifySecret(password, r.secret)
      if (ok) this.verified.set(r.id, { secret: r.secret, digest })
    }
    if (!ok) return { refused: 'bad_password' }
    // Disabled is checked after the password so that it does not reveal which devices exist.
    if (r.disabled === 1) return { refused: 'disabled' }
    return { device: toDevice(r), secret: r.secret }
  }

  /** Stored secret hash, to notice rotation by another process (the CLI). */
  secretOf(id: string): string | null {
    return (this.st.get!.get(id) as Row | undefined)?.secret ?? null
  }

  /** At boot nobody is connected, whatever a crash left in the table. */
  markAllOffline(): void {
    this.st.allOffline!.run()
  }

  setStatus(id: string, status: 'online' | 'offline'): void {
    this.st.setStatus!.run(status, this.now(), id)
  }

  setHealth(id: string, battery: number | null, firmware: string | null): void {
    this.st.setHealth!.run(battery, firmware, id)
  }
}
