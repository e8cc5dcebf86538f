import { describe, expect, it } from 'vitest'
import { allows, bearerToken } from '../gateway/http/auth.ts'
import { parseDuration, parseInstant } from '../gateway/http/params.ts'

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['1m', 60_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['250ms', 250],
    ['1500', 1500],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['0', '0s', '-1m', '1w', 'm', '1.5m', '', '1 m x'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeNull()
  })
})

describe('parseInstant', () => {
  it('reads epoch milliseconds', () => {
    expect(parseInstant('1714564800000')).toBe(1714564800000)
  })

  it('reads ISO 8601 with a zone, and a bare date as UTC midnight', () => {
    expect(parseInstant('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12))
    expect(parseInstant('2024-05-01T14:00:00.000+02:00')).toBe(Date.UTC(2024, 4, 1, 12))
    expect(parseInstant('2024-05-01')).toBe(Date.UTC(2024, 4, 1))
  })

  it.each(['2024-05-01T12:00:00', 'yesterday', '2024-13-45T00:00:00Z', '1e12', ''])('refuses %j (no zone means a different time on every host)', (text) => {
    expect(parseInstant(text)).toBeNull()
  })
})

describe('roles', () => {
  // Documented promise: viewer < hq < admin; a route open to a role is open to the roles above it.
  it.each([
    ['public', null, true],
    ['viewer', null, false],
    ['viewer', 'viewer', true],
    ['viewer', 'admin', true],
    ['hq', 'viewer', false],
    ['hq', 'hq', true],
    ['hq', 'admin', true],
    ['admin', 'hq', false],
    ['admin', 'admin', true],
  ] as const)('access %s with role %s -> %s', (access, role, allowed) => {
    expect(allows(access, role)).toBe(allowed)
  })

  it('reads only the Bearer scheme', () => {
    expect(bearerToken('Bearer abc')).toBe('abc')
    expect(bearerToken('bearer abc')).toBe('abc')
    expect(bearerToken('Basic abc')).toBeNull()
    expect(bearerToken('Bearer')).toBeNull()
    expect(bearerToken(undefined)).toBeNull()
  })
})
