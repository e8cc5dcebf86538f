/**
 * Retry policy pieces shared by the outboxes that POST over HTTP (alert webhooks, the InfluxDB sink):
 * exponential backoff with full jitter, `Retry-After`, and short readable reasons for failed requests.
 */

/**
 * Delay before the next attempt after `failures` failed ones: exponential with full jitter over
 * [retryBaseMs, min(retryMaxMs, retryBaseMs * 2^failures)].
 */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures, 30))
  return Math.min(maxMs, baseMs + random() * Math.max(0, ceiling - baseMs))
}

/** `Retry-After` (delay-seconds or an HTTP date, RFC 9110 §10.2.3) in ms from `now`; undefined if absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** The first `chars` characters of the response body; whatever arrived if reading fails. */
export async function readPrefix(res: Response, chars: number): Promise<string> {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    while (text.length < chars) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
  } catch {
    // Timed out or reset while reading the body: the status is what matters.
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  return text.slice(0, chars)
}

/** A one-line reason for a fetch that threw: a timeout, or the network error code. */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError') return `timeout after ${timeoutMs} ms`
  const cause = e?.cause?.code ?? e?.cause?.message
  return `network error: ${cause ?? e?.message ?? String(err)}`
}
