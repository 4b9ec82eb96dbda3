// `wait` and `sleep` tasks in one process: signals taken in order, one
// sent before its wait is kept, timeouts, with-items waits, what a bad
// signal or definition gets, in memory and on SQLite.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Engine, SignalError, WorkflowError, type RunEvent } from '../lib/index'

const dbUrl = (): string => `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-waits-')), 'a.db')}`

const approval = {
  name: 'approval',
  tasks: {
    approve: {
      wait: { signal: 'approval', timeout: '1h' },
      next: [
        { when: '{{ succeeded() and result().ok }}', do: 'ship' },
        { when: '{{ timed_out() }}', do: 'escalate' },
      ],
    },
    ship: { action: 'mark', input: { what: 'shipped', by: "{{ tasks.approve.result.by }}" } },
    escalate: { action: 'mark', input: { what: 'escalated' } },
  },
  output: '{{ vars.done }}',
}

function engineWith(store?: string): { engine: Engine; marks: unknown[] } {
  const engine = new Engine(store ? { store } : {})
  const marks: unknown[] = []
  engine.action('mark', (input: unknown) => {
    marks.push(input)
    return input
  })
  return { engine, marks }
}

/** Resolves once the run has emitted an event of `type` `count` times. */
async function seen(run: { events(): AsyncGenerator<RunEvent> }, type: RunEvent['type'], count = 1): Promise<RunEvent[]> {
  const found: RunEvent[] = []
  for await (const event of run.events()) {
    if (event.type === type) found.push(event)
    if (found.length === count) break
  }
  return found
}

for (const where of ['memory', 'sqlite'] as const) {
  test(`${where}: a wait takes the signal's payload as its result and goes on; the run is waiting meanwhile`, async (t) => {
    const { engine, marks } = engineWith(where === 'sqlite' ? dbUrl() : undefined)
    const wf = engine.workflow({ ...approval, output: '{{ tasks.ship.result }}' })
    const run = engine.start(wf, {})
    const [waiting] = await seen(run, 'task.waiting')
    t.is((waiting as { signal?: string }).signal, 'approval')
    t.is(run.status, 'waiting')
    t.is((await engine.getRun(run.id))!.status, 'waiting')
    await engine.signal(run.id, 'approval', { ok: true, by: 'ana' })
    t.deepEqual(await run.result(), { what: 'shipped', by: 'ana' })
    t.deepEqual(marks, [{ what: 'shipped', by: 'ana' }])
    const types = run.history().map((e) => e.type)
    t.true(types.indexOf('signal.received') < types.lastIndexOf('task.succeeded'))
    await engine.close()
  })

  test(`${where}: a signal sent before the wait begins is kept for it`, async (t) => {
    const { engine } = engineWith(where === 'sqlite' ? dbUrl() : undefined)
    let release!: () => void
    engine.action('slow', () => new Promise<void>((resolve) => (release = resolve)))
    const wf = engine.workflow({
      name: 'early',
      tasks: { first: { action: 'slow', next: { do: 'approve' } }, approve: { wait: 'approval' } },
      output: '{{ tasks.approve.result }}',
    })
    const run = engine.start(wf, {})
    await seen(run, 'task.started')
    await run.signal('approval', 'early bird')
    release()
    t.is(await run.result(), 'early bird')
    await engine.close()
  })

  test(`${where}: several signals of one name queue in order, one per wait`, async (t) => {
    const { engine } = engineWith(where === 'sqlite' ? dbUrl() : undefined)
    const wf = engine.workflow({
      name: 'three',
      tasks: {
        a: { wait: 'step', next: { do: 'b' } },
        b: { wait: 'step', next: { do: 'c' } },
        c: { wait: 'step' },
      },
      output: '{{ [tasks.a.result, tasks.b.result, tasks.c.result] }}',
    })
    const run = engine.start(wf, {})
    for (const n of [1, 2, 3]) await run.signal('step', n)
    t.deepEqual(await run.result(), [1, 2, 3])
    await engine.close()
  })

  test(`${where}: a wait past its timeout takes the timed_out() transition`, async (t) => {
    const { engine, marks } = engineWith(where === 'sqlite' ? dbUrl() : undefined)
    const wf = engine.workflow({ ...approval, tasks: { ...approval.tasks, approve: { ...approval.tasks.approve, wait: { signal: 'approval', timeout: '30ms' } } }, output: '{{ tasks.escalate.result }}' })
    const run = engine.start(wf, {})
    t.deepEqual(await run.result(), { what: 'escalated' })
    t.deepEqual(marks, [{ what: 'escalated' }])
    t.true(run.history().some((e) => e.type === 'task.timed_out' && e.task === 'approve'))
    // a late signal for the ended run is a clear error
    await t.throwsAsync(() => run.signal('approval', { ok: true }), { instanceOf: SignalError, code: 'ARCFLOW_SIGNAL', message: /has ended \(succeeded\)/ })
    await engine.close()
  })

  test(`${where}: a with-items wait waits for one signal per item, names rendered per item`, async (t) => {
    const { engine } = engineWith(where === 'sqlite' ? dbUrl() : undefined)
    const wf = engine.workflow({
      name: 'per-item',
      tasks: { sign: { wait: { signal: 'signed-{{ item }}' }, with: { items: '{{ input.people }}' } } },
      output: '{{ tasks.sign.result }}',
    })
    const people = Array.from({ length: 40 }, (_, i) => `p${i}`)
    const run = engine.start(wf, { people })
    await seen(run, 'task.waiting', people.length)
    // out of order: each item takes its own
    for (const p of [...people].reverse()) await engine.signal(run.id, `signed-${p}`, p.toUpperCase())
    t.deepEqual(await run.result(), people.map((p) => p.toUpperCase()))
    await engine.close()
  })

  test(`${where}: sleep ends at its time, duration or until`, async (t) => {
    const { engine } = engineWith(where === 'sqlite' ? dbUrl() : undefined)
    const wf = engine.workflow({
      name: 'naps',
      tasks: { nap: { sleep: '20ms', next: { do: 'until' } }, until: { sleep: { until: '{{ input.at }}' } } },
      output: '{{ [tasks.nap.result, tasks.until.result] }}',
    })
    const at = Date.now() + 40
    const started = Date.now()
    const run = engine.start(wf, { at })
    const [nap, until] = (await run.result()) as [string, string]
    t.true(Date.parse(nap) >= started + 20)
    t.is(until, new Date(at).toISOString())
    t.true(Date.now() >= at) // never early
    await engine.close()
  })
}

test('a signal for an unknown run is a SignalError, in memory and on a store', async (t) => {
  const memory = new Engine()
  await t.throwsAsync(() => memory.signal('nope', 'approval', 1), { instanceOf: SignalError, code: 'ARCFLOW_SIGNAL' })
  await memory.close()
  const { engine } = engineWith(dbUrl())
  await t.throwsAsync(() => engine.signal('nope', 'approval', 1), { instanceOf: SignalError, message: /no run "nope"/ })
  const wf = engine.workflow({ name: 'quick', tasks: { a: { action: 'mark', input: 1 } } })
  await engine.run(wf, {}, { runId: 'quick-1' })
  await t.throwsAsync(() => engine.signal('quick-1', 'approval', 1), { instanceOf: SignalError, message: /run quick-1 has ended \(succeeded\)/ })
  await engine.close()
})

test('a task has exactly one of action, wait, sleep: load errors say where', (t) => {
  const engine = new Engine()
  engine.action('mark', () => 1)
  const problems = (tasks: Record<string, unknown>): string[] => {
    const error = t.throws(() => engine.workflow({ name: 'bad', tasks }), { instanceOf: WorkflowError })
    return (error as WorkflowError).problems.map((p) => `${String(p.path)}: ${p.message}`)
  }
  t.true(problems({ a: { action: 'mark', wait: 'x' } }).some((p) => p.startsWith("tasks.a.wait: task 'a' has both 'action' and 'wait'")))
  t.true(problems({ a: { description: 'nothing' } }).some((p) => p.startsWith("tasks.a.action: task 'a' needs an 'action'")))
  t.true(problems({ a: { wait: { timeout: '1h' } } }).some((p) => p.startsWith("tasks.a.wait.signal: 'wait' needs 'signal'")))
  t.true(problems({ a: { sleep: 'soon' } }).some((p) => p.startsWith('tasks.a.sleep: invalid duration')))
  t.true(problems({ a: { sleep: { until: '{{ x' } } }).some((p) => p.startsWith('tasks.a.sleep.until')))
  t.true(problems({ a: { wait: 'x', input: { y: 1 } } }).some((p) => p.startsWith("tasks.a.input: a wait task takes no 'input'")))
})
