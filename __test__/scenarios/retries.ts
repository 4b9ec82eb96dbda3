// kill -9 inside a durable retry delay (≥ DURABLE_RETRY_MS), then resume
// in another engine: the retry waits only for what is left of its delay
// (from the journaled end of the failed attempt, with the same jitter),
// neither at once nor a whole delay after the resume; earlier tasks do not
// run again; for an item of a with-items task the same, and the items that
// had ended do not run again. Shared by the SQLite (retries-crash.spec.ts)
// and PostgreSQL (retries-postgres.spec.ts) tests.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ExecutionContext } from 'ava'

import { Engine } from '../../lib/index'
// @ts-expect-error a plain .mjs fixture
import { RETRY_DELAY_MS, retryFlow, retryItemsFlow } from '../fixtures/retry-flow.mjs'

async function crashWhileRetrying(store: string, mode: 'task' | 'items'): Promise<{ runId: string; lines: string[]; delayMs: number }> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'fixtures', 'retry-child.mjs'), store, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  let runId = ''
  let delayMs = NaN
  for await (const line of createInterface({ input: child.stdout! })) {
    lines.push(line)
    if (line.startsWith('run ')) runId = line.slice(4)
    if (line.startsWith('retrying ')) delayMs = Number(line.slice('retrying '.length))
    if (line === 'flushed') break
  }
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
  child.kill('SIGKILL')
  const signal = await exited
  if (signal !== 'SIGKILL') throw new Error(`the child ended by itself (${String(signal)}): ${lines.join(' | ')}`)
  return { runId, lines, delayMs }
}

/** Waits a third of the way into the delay (what is left is still ahead); answers when it resumes. */
async function intoTheDelay(t: ExecutionContext, failedAt: number, delayMs: number): Promise<number> {
  const before = failedAt + delayMs / 3 - Date.now()
  if (before > 0) await new Promise((resolve) => setTimeout(resolve, before))
  const resumedAt = Date.now()
  t.true(resumedAt < failedAt + delayMs, 'resumed inside the delay')
  return resumedAt
}

/** The retry started never early (the same jittered delay, from the journaled failure), and not a whole delay after the resume. */
function retriedWhenDue(t: ExecutionContext, startedAt: number, failedAt: number, resumedAt: number, delayMs: number): void {
  // times are whole milliseconds, the jittered delay is not: due is its floor at the earliest
  t.true(startedAt >= Math.floor(failedAt + delayMs), `attempt 2 at ${startedAt - failedAt} ms after the failure, delay ${delayMs}`)
  t.true(startedAt < resumedAt + delayMs, `attempt 2 at ${startedAt - resumedAt} ms after the resume`)
}

export async function retryKeepsItsDelay(t: ExecutionContext, store: string): Promise<void> {
  const { runId, lines, delayMs } = await crashWhileRetrying(store, 'task')
  t.is(lines.filter((l) => l === 'exec first').length, 1)
  t.true(delayMs >= RETRY_DELAY_MS / 2 && delayMs <= RETRY_DELAY_MS, `jittered delay ${delayMs}`)
  const engine = new Engine({ store, durability: 'sync' })
  let firsts = 0
  let flakies = 0
  engine.action('first', () => ++firsts)
  engine.action('flaky', () => `attempt ${++flakies}`)
  engine.workflow(retryFlow)
  const failed = (await engine.getRun(runId))!.tasks.find((x) => x.task === 'flaky' && x.attempt === 1)!
  t.is(failed.status, 'retrying')
  const failedAt = failed.endedAt!
  const resumedAt = await intoTheDelay(t, failedAt, delayMs)
  const run = engine.resume(runId)
  t.is(await run.result(), 'attempt 1')
  const second = (await engine.getRun(runId))!.tasks.find((x) => x.task === 'flaky' && x.attempt === 2)!
  retriedWhenDue(t, second.startedAt!, failedAt, resumedAt, delayMs)
  t.is(firsts, 0, 'the task before the retry did not run again')
  t.is(flakies, 1)
  await engine.close()
}

export async function itemRetryKeepsItsDelay(t: ExecutionContext, store: string): Promise<void> {
  const { runId, lines, delayMs } = await crashWhileRetrying(store, 'items')
  t.deepEqual(lines.filter((l) => l.startsWith('exec item')).sort(), ['exec item 0', 'exec item 1', 'exec item 2', 'exec item 3'])
  t.true(delayMs >= RETRY_DELAY_MS / 2 && delayMs <= RETRY_DELAY_MS, `jittered delay ${delayMs}`)
  const engine = new Engine({ store, durability: 'sync' })
  const calls = [0, 0, 0, 0]
  engine.action('item', (n: number) => (++calls[n]!, n === 2 ? 'retried' : n * 10))
  engine.workflow(retryItemsFlow)
  const itemTwo = async (attempt: number) => (await engine.getRun(runId))!.tasks.find((x) => x.item === 2 && x.attempt === attempt)!
  const failed = await itemTwo(1)
  t.is(failed.status, 'retrying')
  const failedAt = failed.endedAt!
  const resumedAt = await intoTheDelay(t, failedAt, delayMs)
  const run = engine.resume(runId)
  t.deepEqual(await run.result(), [0, 10, 'retried', 30])
  t.deepEqual(calls, [0, 0, 1, 0], 'only the retried item ran again, once')
  const second = await itemTwo(2)
  t.is(second.status, 'succeeded')
  retriedWhenDue(t, second.startedAt!, failedAt, resumedAt, delayMs)
  await engine.close()
}
