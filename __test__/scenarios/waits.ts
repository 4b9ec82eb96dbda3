// kill -9 of a process whose durable run waits or sleeps, then resume in
// another engine: the wait goes on waiting (the action before it does not
// run again), a signal sent while no process held the run is taken, the
// timeout counts from when the wait began, a sleep ends at its journaled
// due time. Shared by the SQLite (waits-crash.spec.ts) and PostgreSQL
// (waits-postgres.spec.ts) tests.
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine, type RunEvent } from '../../lib/index'
// @ts-expect-error a plain .mjs fixture
import { waitFlow } from '../fixtures/wait-flow.mjs'

export const dbUrl = (): string => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-waits-crash-')), 'a.db')}`

/** Runs the child until its wait has begun, kills it -9; its run id, what it reported, when it was killed. */
export async function crashWhileWaiting(store: string, mode: 'wait' | 'sleep', timeoutMs = 60_000): Promise<{ runId: string; lines: string[]; killedAt: number }> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'fixtures', 'wait-child.mjs'), store, mode, String(timeoutMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  let runId = ''
  for await (const line of createInterface({ input: child.stdout! })) {
    lines.push(line)
    if (line.startsWith('run ')) runId = line.slice(4)
    if (line.startsWith('waiting')) break
  }
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
  child.kill('SIGKILL')
  const signal = await exited
  if (signal !== 'SIGKILL') throw new Error(`the child ended by itself (${String(signal)}): ${lines.join(' | ')}`)
  return { runId, lines, killedAt: Date.now() }
}

export function resumer(store: string): { engine: Engine; firsts: () => number } {
  const engine = new Engine({ store, durability: 'sync' })
  let firsts = 0
  engine.action('first', () => ++firsts)
  engine.action('mark', (input: unknown) => input)
  return { engine, firsts: () => firsts }
}

export async function signalWhileDown(t: import('ava').ExecutionContext, store: string): Promise<void> {
  const { runId, lines } = await crashWhileWaiting(store, 'wait')
  t.is(lines.filter((l) => l === 'exec first').length, 1)
  const { engine, firsts } = resumer(store)
  engine.workflow(waitFlow('wait', 60_000))
  // no process holds the run: the signal is kept in the store for its resume
  await engine.signal(runId, 'approval', { ok: 'yes' })
  const run = engine.resume(runId)
  t.deepEqual(await run.result(), { got: { ok: 'yes' } })
  t.is(firsts(), 0, 'the task before the wait did not run again')
  t.true(run.history().some((e) => e.type === 'task.succeeded' && e.task === 'hold'))
  await engine.close()
}

export async function waitKeepsWaiting(t: import('ava').ExecutionContext, store: string): Promise<void> {
  const { runId } = await crashWhileWaiting(store, 'wait')
  const { engine, firsts } = resumer(store)
  engine.workflow(waitFlow('wait', 60_000))
  const run = engine.resume(runId)
  for await (const e of run.events()) if (e.type === 'task.waiting') break
  t.is(run.status, 'waiting')
  await run.signal('approval', 'after resume')
  t.deepEqual(await run.result(), { got: 'after resume' })
  t.is(firsts(), 0)
  await engine.close()
}

export async function timeoutNotRestarted(t: import('ava').ExecutionContext, store: string): Promise<void> {
  const timeoutMs = 1500
  const { runId } = await crashWhileWaiting(store, 'wait', timeoutMs)
  const { engine } = resumer(store)
  engine.workflow(waitFlow('wait', timeoutMs))
  const began = (await engine.getRun(runId))!.tasks.find((x) => x.task === 'hold')!.startedAt!
  await new Promise((resolve) => setTimeout(resolve, timeoutMs + 100)) // the wait is overdue now
  const resumedAt = Date.now()
  const run = engine.resume(runId)
  t.deepEqual(await run.result(), { got: 'timed out' })
  const timedOut = run.history().find((e) => e.type === 'task.timed_out') as RunEvent
  // it timed out from when it began, not a whole timeout after the resume
  t.true(timedOut.time >= began + timeoutMs)
  t.true(timedOut.time < resumedAt + timeoutMs)
  await engine.close()
}

export async function sleepKeepsItsDueTime(t: import('ava').ExecutionContext, store: string): Promise<void> {
  const { runId, lines } = await crashWhileWaiting(store, 'sleep')
  const announced = Date.parse(lines.find((l) => l.startsWith('waiting '))!.slice('waiting '.length))
  const { engine, firsts } = resumer(store)
  engine.workflow(waitFlow('sleep', 0))
  // the journaled due time: the activation's journaled start plus the duration
  const began = (await engine.getRun(runId))!.tasks.find((x) => x.task === 'hold')!.startedAt!
  const due = new Date(began + 1500).toISOString()
  // the first process counted from when its engine began the sleep, a moment after the journaled start
  t.true(announced >= began + 1500 && announced - (began + 1500) < 1500)
  const run = engine.resume(runId)
  const waiting = (async () => {
    for await (const e of run.events()) if (e.type === 'task.waiting') return (e as { until?: string }).until
  })()
  t.deepEqual(await run.result(), { got: due })
  t.is(await waiting, due, 'the resumed sleep has the due time its first process journaled')
  t.true(Date.now() >= Date.parse(due), 'never early')
  t.is(firsts(), 0)
  await engine.close()
}

