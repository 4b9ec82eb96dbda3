// SIGTERM and SIGINT against a real child process with a durable store:
// by default nothing acknowledged is lost and the exit code is the
// conventional one; an application's own listener still runs and owns
// the exit; `handleSignals: false` leaves Node's default.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

import { Engine } from '../lib/index'

const child = join(__dirname, 'fixtures', 'signal-child.mjs')
const dbPath = (): string => join(mkdtempSync(join(tmpdir(), 'arcflow-signals-')), 'arcflow.db')

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  runId: string
  lines: string[]
}

/** Runs signal-child.mjs and sends it `signal` once six items are acknowledged. */
function signalled(path: string, mode: string, signal: NodeJS.Signals): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, path, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    let runId = ''
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      lines.push(line)
      if (line.startsWith('run ')) runId = line.slice(4)
      if (line === 'acked 5') proc.kill(signal)
    })
    proc.on('error', reject)
    proc.on('close', (code, sig) => resolve({ code, signal: sig, runId, lines })) // 'close': after stdout's last line ('exit' may come before it)
  })
}

async function stored(path: string, runId: string): Promise<{ status: string; items: number }> {
  const reader = new Engine({ store: `sqlite:${path}` })
  const info = (await reader.getRun(runId))!
  await reader.close()
  return { status: info.status, items: info.tasks.filter((x) => x.task === 'fan' && x.item !== undefined && x.status === 'succeeded').length }
}

test('SIGTERM loses acknowledged work by default: now every acknowledged item is committed, exit 143, the run resumable', async (t) => {
  const path = dbPath()
  const r = await signalled(path, 'default', 'SIGTERM')
  t.is(r.code, 143)
  t.is(r.lines.filter((l) => l.startsWith('acked ')).length, 6)
  t.deepEqual(await stored(path, r.runId), { status: 'running', items: 6 })
  // left running, it is resumed by the next process: the six items do not run again
  const engine = new Engine({ store: `sqlite:${path}` })
  const calls: number[] = []
  engine.action('item', async (n: number) => (calls.push(n), n))
  engine.workflow({ name: 'fan', tasks: { fan: { action: 'item', with: { items: '{{ range(10) | list }}', concurrency: 1 }, input: '{{ item }}' } }, output: '{{ tasks.fan.result }}' })
  t.deepEqual(await engine.resume(r.runId).result(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  t.deepEqual(calls, [6, 7, 8, 9])
  await engine.close()
})

test('SIGINT by default: every acknowledged item committed, exit 130', async (t) => {
  const path = dbPath()
  const r = await signalled(path, 'default', 'SIGINT')
  t.is(r.code, 130)
  t.deepEqual(await stored(path, r.runId), { status: 'running', items: 6 })
})

test("an application's own SIGTERM listener still runs and owns the exit; nothing acknowledged is lost", async (t) => {
  const path = dbPath()
  const r = await signalled(path, 'app-listener', 'SIGTERM')
  t.true(r.lines.includes('app handler'))
  t.is(r.code, 0, 'the application exited, not arcflow')
  t.deepEqual(await stored(path, r.runId), { status: 'cancelled', items: 6 })
})

test('handleSignals: false installs no listener: the signal kills the process as Node does by default', async (t) => {
  const r = await signalled(dbPath(), 'opt-out', 'SIGTERM')
  t.is(r.code, null)
  t.is(r.signal, 'SIGTERM')
})
