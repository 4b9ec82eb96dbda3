// kill -9 inside a durable retry delay (≥ DURABLE_RETRY_MS), then resume
// in another engine: the retry waits only for what is left of its delay
// (from the journaled end of the failed attempt, with the same jitter),
// neither at once nor a whole delay after the resume; earlier tasks do not
// run again. Shared by the SQLite (retries-crash.spec.ts) and PostgreSQL
// (retries-postgres.spec.ts) tests.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ExecutionContext } from 'ava'

import { Engine } from '../../lib/index'
// @ts-expect-error a plain .mjs fixture
import { RETRY_DELAY_MS, retryFlow } from '../fixtures/retry-flow.mjs'

async function crashWhileRetrying(store: string): Promise<{ runId: string; lines: string[]; delayMs: number }> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'fixtures', 'retry-child.mjs'), store], { stdio: ['ignore', 'pipe', 'inherit'] })
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

export async function retryKeepsItsDelay(t: ExecutionContext, store: string): Promise<void> {
  const { runId, lines, delayMs } = await crashWhileRetrying(store)
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
  // resume a part of the way into the delay: what is left is still ahead
  const before = failedAt + delayMs / 3 - Date.now()
  if (before > 0) await new Promise((resolve) => setTimeout(resolve, before))
  const resumedAt = Date.now()
  t.true(resumedAt < failedAt + delayMs, 'resumed inside the delay')
  const run = engine.resume(runId)
  t.is(await run.result(), 'attempt 1')
  const second = (await engine.getRun(runId))!.tasks.find((x) => x.task === 'flaky' && x.attempt === 2)!
  // never early (the same jittered delay, from the journaled failure) ...
  t.true(second.startedAt! >= failedAt + delayMs, `attempt 2 at ${second.startedAt! - failedAt} ms after the failure, delay ${delayMs}`)
  // ... and not a whole delay after the resume: only what was left
  t.true(second.startedAt! < resumedAt + delayMs, `attempt 2 at ${second.startedAt! - resumedAt} ms after the resume`)
  t.is(firsts, 0, 'the task before the retry did not run again')
  t.is(flakies, 1)
  await engine.close()
}
