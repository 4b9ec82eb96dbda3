// Runs that never lie about their outcome: a failure fails the run unless
// a transition's `when` handles it (also after a kill -9 and resume), and
// a join that can never fire fails the run by name.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine, JoinError, RunFailedError, type RunEvent } from '../lib/index'

const fixtures = join(__dirname, 'fixtures')

function charging(): Engine {
  return new Engine()
    .action('boom', async () => {
      throw new Error('card declined')
    })
    .action('echo', async (input: unknown) => input)
}

test('an unconditional next swallows failures: a failure no when handles fails the run', async (t) => {
  const engine = charging()
  const wf = engine.workflow({
    name: 'charge',
    tasks: {
      charge_card: { action: 'boom', next: [{ do: 'send_receipt' }] },
      send_receipt: { action: 'echo', input: 'receipt' },
    },
    output: { paid: '{{ tasks.charge_card.result }}' },
  })
  const events: RunEvent[] = []
  const run = engine.start(wf)
  const error = await t.throwsAsync(run.result(), { instanceOf: RunFailedError })
  for await (const e of run.events()) events.push(e)
  t.is(error?.task, 'charge_card')
  t.regex(error!.message, /card declined/)
  t.false(events.some((e) => e.type === 'task.started' && e.task === 'send_receipt'), 'a next without when fires on success only')
})

test('a failure is handled by a next whose when holds for it, and an entry without when is for success', async (t) => {
  const engine = charging()
  const wf = engine.workflow({
    name: 'charge',
    tasks: {
      charge_card: { action: 'boom', next: [{ do: 'send_receipt' }, { when: '{{ failed() }}', do: 'apologize' }] },
      send_receipt: { action: 'echo', input: 'receipt' },
      apologize: { action: 'echo', input: 'sorry' },
    },
    output: '{{ tasks.apologize.result }}',
  })
  t.is(await engine.run(wf), 'sorry')
})

/** Runs charge-child.mjs until charge_card runs, then kills it -9. */
function crashWhileCharging(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(fixtures, 'charge-child.mjs'), path], { stdio: ['ignore', 'pipe', 'inherit'] })
    let runId = ''
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('run ')) runId = line.slice(4)
      else if (line === 'charging') child.kill('SIGKILL')
    })
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(runId) : reject(new Error(`the child exited by itself (${code}, ${signal})`))))
  })
}

test('an unconditional next swallows an interrupted attempt after kill -9 and resume: the run fails, and the resume message says it does not run again', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'arcflow-outcomes-')), 'arcflow.db')
  const runId = await crashWhileCharging(path)
  t.truthy(runId)
  const engine = new Engine({ store: `sqlite:${path}`, durability: 'sync' })
  const receipts: unknown[] = []
  engine.action('echo', async (input: unknown) => (receipts.push(input), input))
  engine.action('charge', async () => 'charged') // not called: the attempt was interrupted and has no retry
  engine.load(join(fixtures, 'charge-flow.json'))
  const run = engine.resume(runId)
  const error = await t.throwsAsync(run.result(), { instanceOf: RunFailedError })
  t.is(error?.task, 'charge_card')
  t.is(error?.failure.name, 'InterruptedError')
  t.deepEqual(receipts, [], 'send_receipt did not run')
  const stored = await engine.getRun(runId)
  t.is(stored?.status, 'failed')
  // the resume journal message says what really happened (issue 12, item 5)
  const said = "resumed; 'charge_card': attempt 1 was interrupted; it fails with InterruptedError (no retry left)"
  t.deepEqual(stored?.events.filter((e) => e.kind === 'run.resumed').map((e) => e.message), [said])
  const resumed = run.history().find((e) => e.type === 'run.resumed')
  t.like(resumed, { pending: ['charge_card'], message: said })
  await engine.close()
})

test('a join that can never fire is silent: the run fails with a JoinError naming the join and what it waits for', async (t) => {
  const engine = new Engine().action('echo', async (input: unknown) => input)
  const wf = engine.workflow({
    name: 'pick',
    tasks: {
      pick: { action: 'echo', input: 'a', next: [{ when: "{{ result() == 'a' }}", do: 'a' }, { when: "{{ result() == 'b' }}", do: 'b' }] },
      a: { action: 'echo', input: 1, next: { do: 'end' } },
      b: { action: 'echo', input: 2, next: { do: 'end' } },
      end: { action: 'echo', join: 'all', input: 'done' },
    },
    output: '{{ tasks.end.result }}',
  })
  const run = engine.start(wf)
  const error = await t.throwsAsync(run.result(), { instanceOf: RunFailedError })
  t.is(error?.task, 'end')
  t.is(error?.failure.name, 'JoinError')
  t.is(error?.failure.code, 'ARCFLOW_JOIN')
  t.regex(error!.message, /join 'end'.*'b'/)
  const events: RunEvent[] = []
  for await (const e of run.events()) events.push(e)
  const blocked = events.find((e) => e.type === 'join.blocked')
  t.like(blocked, { join: 'end', waitingFor: ['b'], arrived: 1, needed: 2 })
  t.is(events.at(-1)?.type, 'run.failed')
  t.false(events.some((e) => e.type === 'task.started' && e.task === 'end'))
  t.true(new JoinError('m', { join: 'end', waitingFor: ['b'], arrived: 1, needed: 2 }) instanceof Error)
})
