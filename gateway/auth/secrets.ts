/**
 * Secrets at rest. Device passwords are hashed with scrypt (node:crypto, run on the libuv pool so a
 * connect storm does not block the event loop). HTTP tokens carry 256 random bits, so a single
 * SHA-256 is enough to make a leaked table useless and lets every request be checked in microseconds.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const N = 16_384
const R = 8
const P = 1
const KEYLEN = 32

function scrypt(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))))
}

/** A random secret of `bytes` bytes, base64url. */
export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url')
}

/** `scrypt$N$r$p$salt$hash`, all parameters stored so they can be raised later. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(secret, salt, KEYLEN, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 })
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

/** Constant-time check of a secret against a stored `scrypt$…` hash; false for a malformed hash. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, 'base64url')
  const expected = Buffer.from(parts[5]!, 'base64url')
  if (!n || !r || !p || expected.length === 0) return false
  const key = await scrypt(secret, salt, expected.length, { N: n, r, p, maxmem: 256 * 1024 * 1024 })
  return timingSafeEqual(key, expected)
}

/** SHA-256 hex, for high-entropy tokens only. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
