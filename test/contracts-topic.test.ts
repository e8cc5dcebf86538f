// Device topics: stockyard/v1/{site}/{deviceId}/{kind}. Spec: gateway/contracts/README.md.
import { describe, expect, it } from 'vitest'
import { parseTopic } from '../gateway/contracts/index.ts'

describe('parseTopic', () => {
  it('reads site, device and kind from a five-level topic', () => {
    expect(parseTopic('stockyard/v1/dc-east/scale-07/reading', 8)).toEqual({ ok: true, site: 'dc-east', deviceId: 'scale-07', kind: 'reading' })
  })

  it('leaves an unknown kind to the decoder, which can list the kinds', () => {
    expect(parseTopic('stockyard/v1/dc-east/scale-07/telemetry', 8)).toMatchObject({ ok: true, kind: 'telemetry' })
  })

  it.each([
    ['too few levels', 'stockyard/v1/dc-east/scale-07', /has 4 levels; expected stockyard\/v1\/\{site\}\/\{deviceId\}\/\{kind\}$/],
    ['six levels', 'stockyard/v1/dc-east/scale-07/reading/extra', /has 6 levels/],
    ['another root', 'acme/v1/dc-east/scale-07/reading', /must start with "stockyard\/"/],
    ['another version', 'stockyard/v2/dc-east/scale-07/reading', /topic version "v2" is not supported/],
    ['an empty device level', 'stockyard/v1/dc-east//reading', /^deviceId level "" must be/],
    ['a wildcard as device', 'stockyard/v1/dc-east/+/reading', /^deviceId level "\+" must be/],
    ['a site with a space', 'stockyard/v1/dc east/scale-07/reading', /^site level "dc east" must be/],
    ['an empty kind', 'stockyard/v1/dc-east/scale-07/', /^kind level "" must be/],
  ])('refuses %s as topic.invalid', (_name, topic, message) => {
    const r = parseTopic(topic, 8)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.code).toBe('topic.invalid')
      expect(r.message).toMatch(message)
    }
  })

  it('refuses more levels than maxLevels as topic.too_many_levels, without splitting a huge topic', () => {
    expect(parseTopic('a/b/c/d/e/f/g/h/i', 8)).toMatchObject({ ok: false, code: 'topic.too_many_levels' })
    expect(parseTopic('/'.repeat(60_000), 8)).toMatchObject({ ok: false, code: 'topic.too_many_levels' })
    expect(parseTopic('a/b/c/d/e/f/g/h', 8)).toMatchObject({ ok: false, code: 'topic.invalid' })
  })
})
