// `arcflow enqueue` and `arcflow worker` end to end, as processes on one
// SQLite file: a producer command, a worker command, the output waited for.
import test from 'ava'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { arcflow, finish, start, waitForLine, workdir } from './support/cli'

const FLOW = `name: greet
tasks:
  greet:
    action: core.echo
    input: "hello {{ input.name }}"
  wait:
    action: core.sleep
    input: "{{ input.ms | default(0) }}"
output: "{{ tasks.greet.result }}"
`

function setup(): { dir: string; flows: string; store: string } {
  const dir = workdir('arcflow-cli-queue-')
  const flows = join(dir, 'flows')
  mkdirSync(flows)
  writeFileSync(join(flows, 'greet.yaml'), FLOW)
  writeFileSync(join(dir, 'in.json'), JSON.stringify({ name: 'Ada' }))
  // several processes on one file: locking=shared
  return { dir, flows, store: `sqlite:${join(dir, 'q.db')}?locking=shared` }
}

test('enqueue prints the id (the same key: the same id); a worker runs it; enqueue --wait prints the output', async (t) => {
  const { dir, flows, store } = setup()
  const first = await arcflow(['enqueue', 'greet', '--input', '@in.json', '--key', 'k1', '--store', store], dir)
  t.is(first.code, 0, first.stderr)
  const again = await arcflow(['enqueue', 'greet', '--input', '{"name":"Bo"}', '--key', 'k1', '--store', store], dir)
  t.is(again.stdout, first.stdout)
  t.regex(again.stderr, /already enqueued/)
  const worker = start(['worker', '--workflows', flows, '--store', store, '--concurrency', '4'], dir)
  const ended = finish(worker)
  t.teardown(() => void worker.kill('SIGKILL'))
  const waited = await arcflow(['enqueue', 'greet', '--input', '{"name":"Cy"}', '--wait', '--timeout', '30s', '--store', store], dir)
  t.is(waited.code, 0, waited.stderr)
  t.is(waited.stdout, '"hello Cy"\n')
  const unknown = await arcflow(['enqueue', 'nope', '--wait', '--timeout', '30s', '--store', store], dir)
  t.is(unknown.code, 1)
  t.regex(unknown.stderr, /UnknownWorkflowError/)
  const shown = await arcflow(['runs', 'show', first.stdout.trim(), '--json', '--store', store], dir)
  t.like(JSON.parse(shown.stdout), { status: 'succeeded', output: 'hello Ada' })
  worker.kill('SIGINT')
  const result = await ended
  t.is(result.code, 0, result.stderr)
  t.regex(result.stderr, /stopping: finishing/)
  // the last status line (not a terminal: plain), with the totals
  t.regex(result.stdout, /total: 3 claimed, 3 done, 0 lost/)
})

test('worker: Ctrl-C waits for the run in flight; a second Ctrl-C releases it (exit 130) and another worker finishes it', async (t) => {
  const { dir, flows, store } = setup()
  const { stdout } = await arcflow(['enqueue', 'greet', '--input', '{"name":"Di","ms":600000}', '--store', store], dir)
  const id = stdout.trim()
  const worker = start(['worker', '--workflows', join(flows, 'greet.yaml'), '--store', store], dir)
  t.teardown(() => void worker.kill('SIGKILL'))
  const ended = finish(worker)
  // its status line says it holds the run
  await waitForLine(worker, /running 1/)
  worker.kill('SIGINT')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.is(worker.exitCode, null, 'still finishing the run in flight')
  worker.kill('SIGINT')
  const result = await ended
  t.is(result.code, 130, result.stderr)
  t.regex(result.stderr, /releasing/)
  const shown = await arcflow(['runs', 'show', id, '--json', '--store', store], dir)
  // back in its queue, for any worker
  t.like(JSON.parse(shown.stdout), { status: 'queued' })
  // a second worker takes it over and resumes it: `greet` is done already and does not run again
  const second = start(['worker', '--workflows', flows, '--store', store], dir)
  t.teardown(() => void second.kill('SIGKILL'))
  const waited = await arcflow(['enqueue', 'greet', '--input', '{"name":"Ed"}', '--wait', '--timeout', '30s', '--store', store], dir)
  t.is(waited.stdout, '"hello Ed"\n')
  // the taken-over run ends soon after (its interrupted `wait` has no retry policy: it fails)
  let info: { status: string; tasks: Array<{ task: string; status: string }> } = { status: 'queued', tasks: [] }
  for (let i = 0; i < 100 && (info.status === 'queued' || info.status === 'running'); i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    info = JSON.parse((await arcflow(['runs', 'show', id, '--json', '--store', store], dir)).stdout) as typeof info
  }
  t.is(info.status, 'failed')
  t.like(info.tasks.find((x) => x.task === 'wait' && x.status === 'failed'), { status: 'failed' })
  t.is(info.tasks.filter((x) => x.task === 'greet' && x.status === 'succeeded').length, 1, 'greet did not run again')
  second.kill('SIGINT')
})
