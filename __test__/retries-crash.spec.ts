// kill -9 inside a durable retry delay (a task's, an item's), then resume, on SQLite (scenarios/retries.ts);
// the delay's arithmetic: retry.ts.
import test from 'ava'

import { DURABLE_RETRY_MS, keyedRandom, retryDelay, retryLeft } from '../lib/engine/retry'
import { itemRetryKeepsItsDelay, retryKeepsItsDelay } from './scenarios/retries'
import { dbUrl } from './scenarios/waits'

test('kill -9 inside a long retry delay, resume: the retry waits only for what is left of it', (t) => retryKeepsItsDelay(t, dbUrl()))

test("kill -9 inside a with-items item's long retry delay, resume: the item retries at its original due time, ended items do not run again", (t) => itemRetryKeepsItsDelay(t, dbUrl()))

test('a keyed jitter is the same for the same key and differs across keys', (t) => {
  const policy = { count: 3, delayMs: 10_000, backoff: 'constant' as const, maxDelayMs: Infinity, jitter: 1 }
  const a = retryDelay(policy, 1, keyedRandom('run-a|1|1|-1|1'))
  t.is(retryDelay(policy, 1, keyedRandom('run-a|1|1|-1|1')), a)
  const spread = new Set(Array.from({ length: 50 }, (_, i) => retryDelay(policy, 1, keyedRandom(`run-${i}|1|1|-1|1`))))
  t.true(spread.size > 45, `${spread.size} distinct delays of 50`)
  for (const d of spread) t.true(d > 0 && d <= 10_000)
})

test('what is left of a resumed delay: a short delay or an unknown failure time is due at once', (t) => {
  t.is(retryLeft(DURABLE_RETRY_MS - 1, 1_000, 1_000), 0, 'below the threshold: in memory only, retried at once')
  t.is(retryLeft(5_000, null, 1_000), 0)
  t.is(retryLeft(5_000, 1_000, 3_000), 3_000)
  t.is(retryLeft(5_000, 1_000, 9_000), 0, 'overdue: at once')
  t.is(retryLeft(DURABLE_RETRY_MS, 1_000, 1_000), DURABLE_RETRY_MS)
})
