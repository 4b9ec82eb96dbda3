// Sub-workflows (issue 14): a `workflow:` task runs a child run of its own,
// linked to its parent, whose output is the task's result.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, WorkflowError, type RunEvent } from '../lib/index'
import { SubworkflowDepthError, SubworkflowError } from '../lib/engine/subflows'

const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-subflows-')), 'a.db')

function engineWithChild(options: ConstructorParameters<typeof Engine>[0] = {}): Engine {
  const engine = new Engine(options)
  engine.action('double', async ({ n }: { n: number }) => n * 2)
  engine.workflow({ name: 'child', tasks: { d: { action: 'double', input: { n: '{{ input.n }}' } } }, output: '{{ tasks.d.result }}' })
  return engine
}

test("a workflow task's result is its child's output; the child is a run of its own, linked, whose events the parent's events() include", async (t) => {
  const engine = engineWithChild({ store: `sqlite:${dbPath()}` })
  const parent = engine.workflow({ name: 'parent', tasks: { sub: { workflow: 'child', input: { n: '{{ input.n }}' } } }, output: '{{ tasks.sub.result + 1 }}' })
  const run = engine.start(parent, { n: 20 })
  const events: RunEvent[] = []
  for await (const e of run.events()) events.push(e)
  t.is(await run.result(), 41)
  const child = events.find((e) => e.type === 'task.child')
  t.truthy(child)
  const childId = (child as { childId: string }).childId
  const childStarted = events.find((e) => e.type === 'run.started' && e.runId === childId) as { parentId?: string; parentTask?: string }
  t.is(childStarted.parentId, run.id)
  t.is(childStarted.parentTask, 'sub')
  t.true(events.some((e) => e.type === 'task.succeeded' && e.runId === childId && e.task === 'd'))
  const stored = await engine.getRun(childId)
  t.is(stored?.status, 'succeeded')
  t.is(stored?.parentId, run.id)
  t.is(stored?.parentTask, 'sub')
  // the parent's own history holds its own tasks only
  const own = await engine.getRun(run.id)
  t.deepEqual(own?.tasks.map((x) => x.task), ['sub'])
  await engine.close()
})

test('a failing child fails its task with the child\'s error as cause, through retries', async (t) => {
  const engine = new Engine()
  let calls = 0
  engine.action('boom', async () => {
    calls++
    throw new TypeError('no such customer')
  })
  engine.workflow({ name: 'bad', tasks: { b: { action: 'boom' } } })
  const parent = engine.workflow({ name: 'p', tasks: { sub: { workflow: 'bad', retry: 1 } } })
  const error = await t.throwsAsync(engine.run(parent))
  t.is(calls, 2)
  const sub = (error as Error & { cause: Error }).cause
  t.is(sub.name, 'SubworkflowError')
  const childFailed = (sub as Error & { cause: Error }).cause
  t.is(childFailed.name, 'RunFailedError')
  t.regex(childFailed.message, /no such customer/)
  t.is(((childFailed as Error & { cause: Error }).cause).name, 'TypeError')
  t.truthy(SubworkflowError)
})

test('cancelling the parent cancels its child with the same policy', async (t) => {
  const engine = new Engine()
  let aborted = 0
  let finished = 0
  engine.action('wait', (_i, ctx) => new Promise((resolve) => {
    let over = false
    ctx.signal.addEventListener('abort', () => { if (!over) aborted++; over = true; resolve(null) })
    setTimeout(() => { if (!over) finished++; over = true; resolve('done') }, 50)
  }))
  engine.action('after', async () => 'after')
  engine.workflow({ name: 'slow', tasks: { w: { action: 'wait', next: { do: 'a' } }, a: { action: 'after' } } })
  const parent = engine.workflow({ name: 'p', tasks: { sub: { workflow: 'slow' } } })
  const childIds: string[] = []
  engine.on('event', (e) => { if (e.type === 'task.child') childIds.push(e.childId) })

  const run = engine.start(parent)
  await new Promise((r) => setTimeout(r, 10))
  await run.cancel()
  t.is(run.status, 'cancelled')
  t.is(aborted, 1)
  const child = await engine.getRun(childIds[0]!)
  t.is(child, undefined) // in memory: ended runs are not kept, but it is no longer live
  t.is(engine.stats().liveRuns, 0)

  // allow_finish: the child's in-flight task ends, nothing after it starts
  const events: RunEvent[] = []
  engine.on('event', (e) => events.push(e))
  const second = engine.start(parent)
  await new Promise((r) => setTimeout(r, 10))
  await second.cancel({ policy: 'allow_finish' })
  t.is(second.status, 'cancelled')
  t.is(finished, 1)
  t.false(events.some((e) => e.type === 'task.started' && e.task === 'a'))
  t.true(events.some((e) => e.type === 'run.cancelled' && e.runId === childIds[1]))
})

test('a depth limit stops runaway nesting; a static cycle is refused at load', async (t) => {
  const engine = new Engine({ maxWorkflowDepth: 3 })
  engine.action('leaf', async () => 'leaf')
  engine.workflow({ name: 'w0', tasks: { l: { action: 'leaf' } }, output: '{{ tasks.l.result }}' })
  for (let i = 1; i <= 5; i++) engine.workflow({ name: `w${i}`, tasks: { s: { workflow: `w${i - 1}` } }, output: '{{ tasks.s.result }}' })
  t.is(await engine.run(engine.workflow({ name: 'ok', tasks: { s: { workflow: 'w2' } }, output: '{{ tasks.s.result }}' })), 'leaf')
  const error = await t.throwsAsync(engine.run(engine.workflow({ name: 'deep', tasks: { s: { workflow: 'w4' } } })))
  let cause: unknown = error
  while (cause && !(cause instanceof SubworkflowDepthError)) cause = (cause as Error).cause
  t.true(cause instanceof SubworkflowDepthError)

  t.throws(() => engine.workflow({ name: 'self', tasks: { s: { workflow: 'self' } } }), { instanceOf: WorkflowError, message: /self → self/ })
  engine.workflow({ name: 'a', tasks: { s: { workflow: 'w0' } } })
  engine.workflow({ name: 'b', tasks: { s: { workflow: 'a' } } })
  t.throws(() => engine.workflow({ name: 'a', tasks: { s: { workflow: 'b' } } }), { instanceOf: WorkflowError, message: /a → b → a/ })
  t.throws(() => engine.workflow({ name: 'both', tasks: { s: { workflow: 'w0', action: 'leaf' } } }), { instanceOf: WorkflowError, message: /exactly one/ })
})

test("children charge the parent's account", async (t) => {
  const engine = new Engine()
  engine.action('paid', async () => 1, { cost: 7 })
  engine.workflow({ name: 'c', tasks: { p: { action: 'paid' } } })
  const parent = engine.workflow({ name: 'p', tasks: { own: { action: 'paid', next: { do: 'sub' } }, sub: { workflow: 'c', with: { items: '{{ [1, 2, 3] }}' } } } })
  engine.credit('acme', 100, { key: 'k' })
  await engine.run(parent, undefined, { account: 'acme' })
  t.is(engine.balance('acme'), 100 - 4 * 7)
  const charges = (await engine.ledger('acme')).filter((e) => e.amount < 0)
  t.is(charges.length, 4)
})

test("in memory, a parent's events() hold its child's in order: the child's run.started, the parent's task.child, then the child's tasks and end, before the parent's task ends", async (t) => {
  const engine = engineWithChild()
  const parent = engine.workflow({ name: 'parent', tasks: { sub: { workflow: 'child', input: { n: '{{ input.n }}' } } }, output: '{{ tasks.sub.result }}' })
  const run = engine.start(parent, { n: 4 })
  const seen: string[] = []
  for await (const e of run.events()) seen.push(`${e.runId === run.id ? 'parent' : 'child'} ${e.type}`)
  t.is(await run.result(), 8)
  t.deepEqual(seen, [
    'parent run.started', 'parent task.started',
    'child run.started', 'parent task.child',
    'child task.started', 'child task.succeeded', 'child run.succeeded',
    'parent task.succeeded', 'parent run.succeeded',
  ])
  t.is(engine.stats().liveRuns, 0) // the child was forgotten with its end
  await engine.close()
})

test('a workflow task that cannot start its child (past maxWorkflowDepth) fails with the depth error; its sibling still starts, before that failure', async (t) => {
  const engine = engineWithChild({ maxWorkflowDepth: 1 })
  // `mid` runs at depth 1: its task `g` would start a child at depth 2, past the limit, and throws as it begins
  engine.workflow({ name: 'mid', tasks: { g: { workflow: 'child', input: { n: 1 } }, s: { action: 'double', input: { n: 1 } } } })
  const top = engine.workflow({ name: 'top', tasks: { m: { workflow: 'mid' } } })
  const run = engine.start(top, {})
  const events: RunEvent[] = []
  for await (const e of run.events()) events.push(e)
  await t.throwsAsync(run.result())
  const failed = events.find((e) => e.type === 'task.failed' && (e as { task?: string }).task === 'g')
  t.true(JSON.stringify(failed).includes('ARCFLOW_SUBWORKFLOW_DEPTH'), JSON.stringify(failed))
  const mid = events.filter((e) => e.runId !== run.id && e.type.startsWith('task.')).map((e) => `${e.type} ${(e as { task?: string }).task}`)
  t.true(mid.includes('task.failed g'), mid.join(', '))
  t.true(mid.indexOf('task.started s') >= 0 && mid.indexOf('task.started s') < mid.indexOf('task.failed g'), mid.join(', '))
  await engine.close()
})
