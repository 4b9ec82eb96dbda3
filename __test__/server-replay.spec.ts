// A run's event stream rebuilt from the store's journal equals the live
// one: a run with a wait, a signal and a join (and one whose join can never
// fire) watched live to the end over SSE, then read again after a restart
// on the same SQLite file: the same events, ids and fields; a reconnect
// with Last-Event-ID in the middle gets exactly the rest. Times are
// compared for the events the journal keeps as they were (`task.waiting`,
// `signal.received`); the others' times are the executions' stamps.
import test from 'ava'
import { join } from 'node:path'

import { Engine } from '../lib/index'
import { createServer } from '../lib/server/index'
import { workdir } from './support/cli'
import { api, readSse, TOKEN, type Sse } from './support/server'

function define(engine: Engine) {
  return [
    engine.workflow({
      name: 'approve-join',
      tasks: {
        gate: { wait: { signal: 'go' }, next: { do: 'merge' } },
        work: { action: 'core.echo', input: 'w', next: { do: 'merge' } },
        merge: { action: 'core.echo', join: 'all', input: '{{ [tasks.gate.result, tasks.work.result] }}' },
      },
      output: '{{ tasks.merge.result }}',
    }),
    // `pick` goes one way only: the join waits for the other for ever (join.blocked, then run.failed)
    engine.workflow({
      name: 'blocked-join',
      tasks: {
        gate: { wait: { signal: 'go' }, next: [{ when: "{{ result() == 'a' }}", do: 'a' }, { when: "{{ result() == 'b' }}", do: 'b' }] },
        a: { action: 'core.echo', input: 1, next: { do: 'end' } },
        b: { action: 'core.echo', input: 2, next: { do: 'end' } },
        end: { action: 'core.echo', join: 'all', input: 'done' },
      },
    }),
  ]
}

async function serveOn(file: string) {
  const engine = new Engine({ builtins: true, handleSignals: false, store: `sqlite:${file}` })
  const server = createServer({ engine, workflows: define(engine), tokens: [TOKEN], port: 0 })
  const { url } = await server.listen()
  return { url, close: async () => (await server.close(), await engine.close()) }
}

const messages = (frames: Sse[]): Sse[] => frames.filter((f) => f.event === 'message')
// the times of events rebuilt from executions are the store's stamps of those executions, which may
// differ by a millisecond or a few from the live event's (see replay.ts): compared apart
const untimed = (f: Sse): Sse => {
  const { time: _time, ...data } = f.data as { time: number }
  return { ...f, data }
}

for (const [workflow, payload, status] of [['approve-join', 'a', 'succeeded'], ['blocked-join', 'a', 'failed']] as const) {
  test(`${workflow}: the stream rebuilt from the journal after a restart equals the live one; Last-Event-ID in the middle gets exactly the rest`, async (t) => {
    const file = join(workdir('arcflow-replay-'), 'a.db')
    const a = await serveOn(file)
    let id: string
    let live: Sse[]
    try {
      const started = await api(`${a.url}/v1/runs`, { body: { workflow } })
      id = started.body.id as string
      // the signal goes once the wait is seen waiting on the stream
      let sent: Promise<unknown> | undefined
      const seen = await readSse(`${a.url}/v1/runs/${id}/events`, {
        token: TOKEN,
        stop: (frames) => {
          if (!sent && frames.some((f) => (f.data as { type?: string }).type === 'task.waiting')) sent = api(`${a.url}/v1/runs/${id}/signals/go`, { body: { payload } })
          return false
        },
      })
      t.is((await sent)!.constructor, Object)
      t.is(seen.frames.at(-1)!.event, 'end')
      t.is((seen.frames.at(-1)!.data as { status: string }).status, status)
      live = messages(seen.frames)
    } finally {
      await a.close()
    }
    const types = live.map((f) => (f.data as { type: string }).type)
    t.true(types.includes('task.waiting') && types.includes('signal.received'), types.join(' '))
    if (workflow === 'blocked-join') t.true(types.includes('join.blocked'), types.join(' '))
    else t.true(types.filter((x) => x === 'task.started').length === 3, types.join(' '))
    t.deepEqual(live.map((f) => f.id), live.map((_, i) => i + 1))

    const b = await serveOn(file)
    try {
      const again = await readSse(`${b.url}/v1/runs/${id}/events`, { token: TOKEN })
      const rebuilt = messages(again.frames)
      t.deepEqual(rebuilt.map(untimed), live.map(untimed), 'the same events, ids and fields, read from the store')
      // what the journal keeps as the live event was has its time too
      const journaled = (fs: Sse[]) => fs.filter((f) => ['task.waiting', 'signal.received'].includes((f.data as { type: string }).type))
      t.deepEqual(journaled(rebuilt), journaled(live))
      t.is((again.frames.at(-1)!.data as { status: string }).status, status)
      const middle = Math.floor(live.length / 2)
      const rest = await readSse(`${b.url}/v1/runs/${id}/events`, { token: TOKEN, lastEventId: middle })
      t.deepEqual(messages(rest.frames).map(untimed), live.slice(middle).map(untimed), 'exactly the events after the one given')
    } finally {
      await b.close()
    }
  })
}
