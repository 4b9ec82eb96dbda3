// `arcflow serve` as a real child process: SIGTERM with runs in flight
// (requests answer, streams get a final frame, exit 0), then a restart on
// the same store that resumes the run and serves its events on from the
// client's Last-Event-ID: none missing, none twice.
import test from 'ava'
import { once } from 'node:events'
import { join } from 'node:path'

import { start, workdir } from './support/cli'
import { api, readSse, serverFixtures, TOKEN } from './support/server'

function serveProcess(dir: string, port: number) {
  const child = start(['serve', '--workflows', join(serverFixtures, 'steps.yaml'), '--store', `sqlite:${join(dir, 'a.db')}`, '--port', String(port), '--shutdown-grace', '200'], dir, { ARCFLOW_TOKENS: TOKEN })
  let stderr = ''
  const ready = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d
      const m = /listening on (\S+)/.exec(stderr)
      if (m) resolve(m[1]!)
    })
    child.on('close', () => reject(new Error(`serve ended: ${stderr}`)))
  })
  return { child, ready, stderr: () => stderr }
}

test('SIGTERM with runs in flight: streams end with a final frame, a waiting request answers, exit 0; a restart resumes the run and Last-Event-ID goes on exactly', async (t) => {
  const dir = workdir('arcflow-serve-')
  const port = 20_000 + (process.pid % 20_000)
  const a = serveProcess(dir, port)
  const url = await a.ready
  // each task sleeps 400 ms: the run is in flight when SIGTERM comes
  const { body } = await api(`${url}/v1/runs`, { body: { workflow: 'steps', input: { ms: 400 } } })
  const waiting = api(`${url}/v1/runs`, { body: { workflow: 'steps', input: { ms: 400 }, wait: true } })
  const events = `${url}/v1/runs/${body.id}/events`
  const first = readSse(events, { token: TOKEN })
  // SIGTERM once the first task started (seen on a second stream)
  await readSse(events, { token: TOKEN, stop: (f) => f.some((x) => (x.data as { type: string }).type === 'task.started') })
  a.child.kill('SIGTERM')
  const [code] = (await once(a.child, 'close')) as [number]
  t.is(code, 0, a.stderr())
  const seen = await first
  const last = seen.frames[seen.frames.length - 1]!
  t.is(last.event, 'end')
  t.is((last.data as { reason: string }).reason, 'shutdown')
  const answered = await waiting
  t.is(answered.status, 201, 'the waiting request answered, its run still running')
  t.is(answered.body.status, 'running')

  const b = serveProcess(dir, port)
  await b.ready
  try {
    t.regex(b.stderr(), /[12] runs resumed/)
    const before = seen.frames.filter((f) => f.event === 'message').map((f) => f.id!)
    const rest = await readSse(events, { token: TOKEN, lastEventId: before[before.length - 1] })
    const after = rest.frames.filter((f) => f.event === 'message').map((f) => f.id!)
    const all = [...before, ...after]
    t.deepEqual(all, Array.from({ length: all.length }, (_, i) => i + 1), 'every event once, in order, across the restart')
    t.is(rest.frames[rest.frames.length - 1]!.event, 'end')
    t.is((rest.frames[rest.frames.length - 1]!.data as { status: string }).status, 'succeeded')
    const types = [...seen.frames, ...rest.frames].map((f) => (f.data as { type?: string }).type)
    t.true(types.includes('run.resumed'))
    // the whole stream read afresh from the store matches what the client pieced together
    const whole = await readSse(events, { token: TOKEN })
    t.deepEqual(whole.frames.filter((f) => f.event === 'message').map((f) => (f.data as { type: string }).type), types.filter((x) => x !== undefined))
  } finally {
    b.child.kill('SIGTERM')
    await once(b.child, 'close')
  }
})
