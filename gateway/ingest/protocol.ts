/**
 * Messages between the broker thread and the ingest worker. The broker thread hands over raw
 * PUBLISH payloads; the worker decodes, deduplicates and commits them, and answers each batch with
 * one outcome per message. A batch's answer arrives only after its transaction committed, so the
 * PUBACKs sent on it keep the durability promise.
 */
import type { Rejection, RejectionCode } from '../core/records.ts'
import type { AlertNotice, RuntimeCalls } from '../rules/runtime.ts'
import type { WebhookOutboxStats } from '../alerts/webhook.ts'

/** One PUBLISH as the broker saw it. */
export interface RawMessage {
  deviceId: string
  site: string
  zone: string
  kind: string
  topic: string
  payload: Uint8Array
  /** Set when the broker already refused it (e.g. an ACL denial): stored as a dead letter only. */
  refusal?: { code: RejectionCode; message: string }
}

export const OUTCOME_REJECTED = 0
export const OUTCOME_ACCEPTED = 1

export interface BatchStats {
  /** Accepted messages by kind. */
  kinds: Record<string, number>
  points: number
  events: number
  commitSeconds: number
}

export type ToWorker =
  | { type: 'batch'; id: number; messages: RawMessage[] }
  | { type: 'presence'; deviceId: string; status: 'online' | 'offline' }
  | { type: 'flush'; id: number }
  | { type: 'call'; id: number; method: keyof RuntimeCalls; args: unknown }
  | { type: 'close' }

/** Rule and notification counters, sent every few seconds for /metrics. */
export interface RuleStatsMessage {
  type: 'ruleStats'
  rules: Array<{ id: string; evaluations: number; errors: number; latePoints: number }>
  webhooks: WebhookOutboxStats
  droppedNotifications: number
  alerts: Record<string, number>
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'batch'; id: number; ok: true; outcomes: Uint8Array; rejections: Rejection[]; stats: BatchStats }
  | { type: 'batch'; id: number; ok: false; error: string }
  | { type: 'flushed'; id: number }
  | { type: 'retention'; deleted: number }
  | { type: 'alerts'; notices: AlertNotice[] }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: { code: string; message: string; details?: unknown } }
  | RuleStatsMessage
  | { type: 'fatal'; error: string; code?: string }
