/**
 * Delays between attempts, from a task's retry policy. A durable run's
 * delay of at least `DURABLE_RETRY_MS` survives a restart like a sleep:
 * its due time is the journaled end of the failed attempt (its `retrying`
 * row's `endedAt`; a task's or an item's) plus the delay, which the resume
 * computes again; so that the jitter comes out the same, a durable run
 * draws it from a hash of the attempt's key (run, task, activation, item, attempt), not from
 * `Math.random` (spread across runs all the same). A shorter delay stays
 * an in-memory timer: a resume retries at once.
 */
import type { RetryPolicy } from '../workflow/model'

/** Retry delays from this many ms on are durable (documented in the README). */
export const DURABLE_RETRY_MS = 1000

/** Delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  let delay = policy.delayMs
  if (policy.backoff === 'linear') delay *= attempt
  else if (policy.backoff === 'exponential') delay *= 2 ** (attempt - 1)
  delay = Math.min(delay, policy.maxDelayMs)
  return delay * (1 - policy.jitter * random())
}

/** A fraction in [0, 1) fixed by `key` (FNV-1a, 32 bits): the same after a restart. */
export function keyedRandom(key: string): () => number {
  return () => {
    let h = 0x811c9dc5
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
    return (h >>> 0) / 2 ** 32
  }
}

/**
 * What is left of a resumed retry's delay (ms): a durable one counts from
 * when the attempt failed (`failedAt`, journaled); a short one, or one
 * whose time is unknown, is due at once.
 */
export function retryLeft(delayMs: number, failedAt: number | null | undefined, now = Date.now()): number {
  if (delayMs < DURABLE_RETRY_MS || failedAt == null) return 0
  return Math.max(0, failedAt + delayMs - now)
}
