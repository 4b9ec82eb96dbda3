/** Delays between attempts, from a task's retry policy. */
import type { RetryPolicy } from '../workflow/model'

/** Delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  let delay = policy.delayMs
  if (policy.backoff === 'linear') delay *= attempt
  else if (policy.backoff === 'exponential') delay *= 2 ** (attempt - 1)
  delay = Math.min(delay, policy.maxDelayMs)
  return delay * (1 - policy.jitter * random())
}
