// kill -9 during a child run, then resume the parent: the completed child
// is not run again, the interrupted child is resumed (same id, its
// completed task not run again), not restarted; both are runs of their own
// linked to the parent. Shared by the SQLite (subflows-crash.spec.ts) and
// PostgreSQL (features-postgres.spec.ts) tests.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { ExecutionContext } from 'ava'

import { Engine, type RunEvent } from '../../lib/index'

function crash(store: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '..', 'fixtures', 'subflow-crash.mjs'), store], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`never hung: ${lines.join('; ')}`)) }, 30_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      if (line === 'exec hang') child.kill('SIGKILL')
    })
    child.on('exit', (_code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') resolve(lines)
      else reject(new Error(`the child exited by itself: ${lines.join('; ')}`))
    })
  })
}

export async function childNotRerun(t: ExecutionContext, store: string): Promise<void> {
  const before = await crash(store)
  const runId = before.find((l) => l.startsWith('run '))!.slice(4)
  const children = before.filter((l) => l.startsWith('child ')).map((l) => l.slice(6))
  t.is(children.length, 2)
  t.deepEqual(before.filter((l) => l.startsWith('exec ')), ['exec quick', 'exec pre', 'exec hang'])

  const engine = new Engine({ store, durability: 'sync' })
  const calls: string[] = []
  engine.action('step', async (name: string) => { calls.push(name); return name })
  engine.action('hang', async () => { calls.push('hang'); return 'woke' })
  engine.workflow({ name: 'quick', tasks: { q: { action: 'step', input: 'quick' } }, output: '{{ tasks.q.result }}' })
  engine.workflow({ name: 'slow', tasks: { pre: { action: 'step', input: 'pre', next: { do: 'h' } }, h: { action: 'hang', retry: 1 } }, output: '{{ tasks.h.result }}' })
  engine.workflow({ name: 'parent', tasks: { one: { workflow: 'quick', next: { do: 'two' } }, two: { workflow: 'slow' } }, output: '{{ [tasks.one.result, tasks.two.result] }}' })

  const interrupted = await engine.interruptedRuns()
  t.deepEqual(interrupted.map((r) => r.id), [runId]) // the child is resumed by its parent, not listed
  const events: RunEvent[] = []
  const run = engine.resume(runId)
  const collect = (async () => { for await (const e of run.events()) events.push(e) })()
  t.deepEqual(await run.result(), ['quick', 'woke'])
  await collect
  t.deepEqual(calls, ['hang']) // neither `quick` nor the slow child's `pre` ran again
  const resumedChild = events.find((e) => e.type === 'task.child') as { childId: string }
  t.is(resumedChild.childId, children[1])
  t.true(events.some((e) => e.type === 'run.resumed' && e.runId === children[1]))
  const slow = await engine.getRun(children[1]!)
  t.is(slow?.status, 'succeeded')
  t.is(slow?.parentId, runId)
  t.is(slow?.parentTask, 'two')
  const quick = await engine.getRun(children[0]!)
  t.is(quick?.status, 'succeeded')
  t.is(quick?.parentId, runId)
  t.is(quick?.parentTask, 'one')
  await engine.close()
}
