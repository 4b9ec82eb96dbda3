// An ended run the server keeps in memory (`recentRuns`; an engine without a
// store, so memory is the only source) answers what the live run said, field
// for field: its events over WebSocket (`subscribe` from 0 and from the
// middle) and SSE (from 0 and with Last-Event-ID), its result, and
// `GET /v1/runs/:id`. Runs with logs (data), a retry, and a failed run's
// error (no stack), each replayed after other runs have ended since.
import test from 'ava'

import { Engine } from '../lib/index'
import { readSse, serve, TOKEN, WsClient, type Sse } from './support/server'

function workflows(engine: Engine) {
  let calls = 0
  // fails its first call, succeeds its second: a `task.retrying` with an error in the stream
  engine.action('flaky', async (input: unknown) => {
    if (++calls % 2 === 1) throw Object.assign(new Error('not yet'), { code: 'NOT_YET' })
    return { input, calls }
  })
  engine.action('chatty', async ({ n }: { n: number }, ctx) => {
    for (let i = 0; i < n; i++) ctx.log(`line ${i}`, { i, text: 'é"\n' })
    return n
  })
  return [
    engine.workflow({
      name: 'mixed',
      tasks: {
        talk: { action: 'chatty', input: { n: '{{ input.n }}' }, next: { do: 'retry' } },
        retry: { action: 'flaky', input: '{{ input }}', retry: { count: 1, delay: 0 }, next: { do: 'echo' } },
        echo: { action: 'core.echo', input: { got: '{{ tasks.retry.result }}', list: [1, 2.5, null, true] } },
      },
      output: '{{ tasks.echo.result }}',
    }),
    engine.workflow({ name: 'broken', tasks: { first: { action: 'chatty', input: { n: 1 }, next: { do: 'boom' } }, boom: { action: 'core.fail', input: { message: 'it broke' } } } }),
    engine.workflow({ name: 'trivial', tasks: { echo: { action: 'core.echo', input: '{{ input }}' } }, output: '{{ tasks.echo.result }}' }),
  ]
}

const events = (c: WsClient, ref: string): Array<Record<string, unknown>> => c.frames.filter((f) => f.type === 'event' && f.ref === ref)
const strip = ({ ref: _ref, ...rest }: Record<string, unknown>): Record<string, unknown> => rest

for (const [workflow, input, status] of [
  ['mixed', { n: 3 }, 'succeeded'],
  ['broken', null, 'failed'],
] as const) {
  test(`${workflow}: an ended run kept in memory answers its live events, result and view field for field`, async (t) => {
    const engine = new Engine({ builtins: true, handleSignals: false })
    const s = await serve({ engine, workflows: workflows(engine), recentRuns: 100 })
    const c = new WsClient(s.ws, TOKEN)
    try {
      await c.opened
      c.send({ type: 'start', ref: 'live', workflow, input, events: true })
      const result = strip(await c.next((f) => f.type === 'result' && f.ref === 'live'))
      t.is(result.status, status)
      const live = events(c, 'live').map(strip)
      t.true(live.length >= 5, `a run of several events (${live.length})`)
      t.deepEqual(live.map((f) => f.seq), live.map((_, i) => i + 1))
      if (status === 'failed') {
        const error = result.error as Record<string, unknown>
        t.is(error.message, 'it broke')
        t.false('stack' in error, 'no stack leaves the server')
      }
      // other runs end after it: it is read from what the hub kept, not from the live run
      for (let i = 0; i < 20; i++) {
        c.send({ type: 'start', ref: `other${i}`, workflow: 'trivial', input: i })
        await c.next((f) => f.type === 'result' && f.ref === `other${i}`)
      }
      const runId = result.runId as string

      c.send({ type: 'subscribe', ref: 'all', runId, after: 0 })
      t.deepEqual(strip(await c.next((f) => f.type === 'result' && f.ref === 'all')), result)
      t.deepEqual(events(c, 'all').map(strip), live)
      const middle = Math.floor(live.length / 2)
      c.send({ type: 'subscribe', ref: 'rest', runId, after: middle })
      t.deepEqual(strip(await c.next((f) => f.type === 'result' && f.ref === 'rest')), result)
      t.deepEqual(events(c, 'rest').map(strip), live.slice(middle))

      // SSE: the same events with their ids, then the end
      const asSse = (f: Record<string, unknown>): Sse => ({ id: f.seq as number, event: 'message', data: f.event })
      const { frames } = await readSse(`${s.url}/v1/runs/${runId}/events`, { token: TOKEN })
      t.deepEqual(frames.filter((f) => f.event === 'message'), live.map(asSse))
      const end = frames.find((f) => f.event === 'end')?.data as Record<string, unknown>
      t.deepEqual({ ...end, type: 'result' }, { ...result, reason: 'ended' })
      const resumed = await readSse(`${s.url}/v1/runs/${runId}/events`, { token: TOKEN, lastEventId: middle })
      t.deepEqual(resumed.frames.filter((f) => f.event === 'message'), live.slice(middle).map(asSse))

      // the run's view: its end, and its tasks as the live events tell them
      const view = (await (await fetch(`${s.url}/v1/runs/${runId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Record<string, unknown>
      t.is(view.status, status)
      t.is(view.workflow, workflow)
      t.deepEqual(view.output, result.output)
      t.deepEqual(view.error, result.error)
      const tasks = (view.tasks as Array<{ task: string; attempt: number; status: string }>).map((x) => `${x.task}:${x.attempt}:${x.status}`)
      t.deepEqual(tasks, workflow === 'mixed' ? ['talk:1:succeeded', 'retry:1:retrying', 'retry:2:succeeded', 'echo:1:succeeded'] : ['first:1:succeeded', 'boom:1:failed'])
    } finally {
      c.ws.close()
      await s.close()
    }
  })
}
