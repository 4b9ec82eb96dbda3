// The `arcflow` command as a user drives it: spawned processes, their exit
// codes and output, Ctrl-C (SIGINT to the child) with the store checked
// afterwards, validate on broken files, and the report in a real browser.
import test from 'ava'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'

import { arcflow, bin, finish, fixtures, hello, helloActions, start, waitForLine, workdir } from './support/cli'

const runIdOf = (stdout: string): string => /run (\S+) (succeeded|failed|cancelled)/.exec(stdout)![1]!

test('run: a workflow on the embedded store, one plain line per event, the output, exit 0; then runs list and show', async (t) => {
  const cwd = workdir()
  const r = await arcflow(['run', hello, '--actions', helloActions, '--input', '{"names":["Ada","Grace","Linus"]}'], cwd)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /run\.started hello/)
  t.regex(r.stdout, /task\.retrying greet #1 in \d+ ms after Error: transient failure/)
  t.regex(r.stdout, /item\.completed greet #2 succeeded/)
  t.regex(r.stdout, /✔ run \S+ succeeded in/)
  t.true(r.stdout.includes('"report": "1. HELLO ADA; 2. HELLO GRACE; 3. HELLO LINUS (3 greeted)"'))
  t.true(existsSync(join(cwd, '.arcflow', 'arcflow.db')), 'the default store is ./.arcflow/arcflow.db')
  const id = runIdOf(r.stdout)
  const list = await arcflow(['runs', 'list'], cwd)
  t.is(list.code, 0)
  t.regex(list.stdout, new RegExp(`${id}\\s+hello\\s+succeeded`))
  const show = await arcflow(['runs', 'show', id], cwd)
  t.is(show.code, 0)
  t.regex(show.stdout, /status\s+succeeded/)
  t.regex(show.stdout, /version\s+[0-9a-f]{64}\n/, 'the workflow version the run ran')
  t.regex(show.stdout, /greet\s+1\s+1\s+1\s+retrying\s+\S+ ms\s+"transient failure"/)
  t.regex(show.stdout, /report\s+1\s+1\s+succeeded/)
})

test('run --json: NDJSON events, the output as the last line, tagged { type: output }', async (t) => {
  const cwd = workdir()
  const r = await arcflow(['run', hello, '--actions', helloActions, '--input', '{"names":["Ada"]}', '--json'], cwd)
  t.is(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type?: string })
  t.is(lines[0]!.type, 'run.started')
  t.is(lines.at(-2)!.type, 'run.succeeded')
  t.like(lines.at(-1), { type: 'output', output: { report: '1. HELLO ADA (1 greeted)', greeted: 1 } })
})

test('exit codes: 1 for a failed run, 2 for bad usage, a missing file, bad input or an invalid workflow', async (t) => {
  const cwd = workdir()
  const failed = await arcflow(['run', join(fixtures, 'fails.yaml')], cwd)
  t.is(failed.code, 1)
  t.regex(failed.stdout, /✘ run \S+ failed .*the disk is on fire/)
  const cases: Array<[string[], RegExp]> = [
    [['run', join(fixtures, 'fails.yaml'), '--bogus'], /unknown option '--bogus'/],
    [['run'], /missing required argument 'file'/],
    [['run', join(cwd, 'nope.yaml')], /no such file: .*nope\.yaml/],
    [['run', hello, '--actions', helloActions, '--input', '{names'], /--input is not JSON/],
    [['run', hello, '--actions', helloActions], /needs different input/],
    [['run', hello], /action 'greet'/],
    [['run', join(fixtures, 'broken.yaml')], /broken\.yaml:9:13: tasks\.fetch\.next\[0\]\.do: unknown task 'sumarize'/],
    [['run', hello, '--durability', 'often'], /Allowed choices are none, batched, sync/],
    [['graph', hello, '--format', 'png'], /Allowed choices are mermaid, dot/],
    [['runs', 'show', 'no-such-run'], /no run no-such-run/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ]
  for (const [args, message] of cases) {
    const r = await arcflow(args, cwd)
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    t.regex(r.stderr, message, args.join(' '))
  }
})

test('--help for every command, with examples', async (t) => {
  const cwd = workdir()
  for (const command of [[], ['run'], ['validate'], ['graph'], ['runs'], ['runs', 'list'], ['runs', 'show'], ['runs', 'resume'], ['report']]) {
    const r = await arcflow([...command, '--help'], cwd)
    t.is(r.code, 0, command.join(' '))
    t.regex(r.stdout, /Usage: arcflow/, command.join(' '))
    if (command.length > 0 && command.join(' ') !== 'runs') t.regex(r.stdout, /Example/, command.join(' '))
  }
})

test('validate: every problem of a broken file with its exact line:column and a hint; exit 2', async (t) => {
  const cwd = workdir()
  const file = join(fixtures, 'broken.yaml')
  const r = await arcflow(['validate', file, hello], cwd)
  t.is(r.code, 2)
  t.regex(r.stdout, /✔ .*hello\.yaml: hello, 4 tasks/)
  const lines = r.stderr.trim().split('\n')
  t.is(lines[0], `✘ ${file}: 3 problems`)
  t.deepEqual(lines.slice(1).sort(), [
    `  ${file}:6:33: tasks.fetch.retry.backoff: unknown backoff "exponental" (did you mean 'exponential'?)`,
    `  ${file}:7:14: tasks.fetch.timeout: invalid duration "5 parsecs" (use a number of milliseconds or a string like '250ms', '5s', '2m', '1h')`,
    `  ${file}:9:13: tasks.fetch.next[0].do: unknown task 'sumarize' (did you mean 'summarize'?)`,
  ])
  t.is((await arcflow(['validate', hello], cwd)).code, 0)
})

test('graph: mermaid and dot, with conditions and with-items marked', async (t) => {
  const cwd = workdir()
  const mermaid = await arcflow(['graph', hello], cwd)
  t.is(mermaid.code, 0)
  t.true(mermaid.stdout.startsWith('flowchart TD\n'))
  // the box now also shows greet's retries and timeout (it pinned their absence, issue 12.16)
  t.true(mermaid.stdout.includes('t_greet[["greet<br/>greet<br/>with items, concurrency 4<br/>retry ×2, exponential from 10 ms<br/>timeout 1000 ms"]]'))
  t.true(mermaid.stdout.includes('t_greet -->|"succeeded()"| t_shout'))
  t.true(mermaid.stdout.includes('t_greet -->|"failed()"| fail'))
  t.true(mermaid.stdout.includes('start --> t_greet'))
  const dot = await arcflow(['graph', hello, '--format', 'dot'], cwd)
  t.is(dot.code, 0)
  t.true(dot.stdout.includes('"greet" -> "count" [label="succeeded()"];'))
  t.true(dot.stdout.includes('peripheries=2'))
})

test('Ctrl-C cancels the run cleanly: exit 130, the store flushed with the run cancelled', async (t) => {
  const cwd = workdir()
  const child = start(['run', join(fixtures, 'sleepy.yaml')], cwd)
  const result = finish(child)
  await waitForLine(child, /task\.started nap/)
  child.kill('SIGINT')
  const r = await result
  t.is(r.code, 130, r.stderr)
  t.regex(r.stderr, /cancelling the run/)
  t.regex(r.stdout, /run\.cancelled/)
  const id = /run (\S+) cancelled/.exec(r.stdout)![1]!
  const show = await arcflow(['runs', 'show', id], cwd)
  t.regex(show.stdout, /status\s+cancelled/)
  t.regex(show.stdout, /first\s+1\s+1\s+succeeded/)
  t.regex(show.stdout, /nap\s+1\s+1\s+cancelled/)
})

test('a second Ctrl-C exits at once, even while the first waits on a store that cannot write', async (t) => {
  const cwd = workdir()
  const child = start(['run', join(fixtures, 'sleepy.yaml')], cwd)
  const result = finish(child)
  await waitForLine(child, /task\.started nap/)
  // the database files become immutable: the flush after the first Ctrl-C retries and never lands
  const files = ['arcflow.db', 'arcflow.db-wal'].map((f) => join(cwd, '.arcflow', f))
  execFileSync('chattr', ['+i', ...files])
  try {
    child.kill('SIGINT')
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.is(child.exitCode, null, 'the first Ctrl-C waits for the store')
    child.kill('SIGINT')
    const r = await result
    t.is(r.code, 130)
  } finally {
    execFileSync('chattr', ['-i', ...files])
  }
})

test('runs resume: a run killed -9 goes on from where it stopped, completed tasks not run again', async (t) => {
  const cwd = workdir()
  const file = join(fixtures, 'resumable.yaml')
  const actions = join(fixtures, 'resumable-actions.mjs')
  const child = start(['run', file, '--actions', actions, '--durability', 'sync'], cwd, { HANG: '1' })
  const result = finish(child)
  const started = await waitForLine(child, /task\.started nap/)
  t.truthy(started)
  child.kill('SIGKILL')
  await result
  const list = await arcflow(['runs', 'list', '--status', 'running'], cwd)
  const id = /^(\S+)\s+resumable\s+running/m.exec(list.stdout)![1]!
  const r = await arcflow(['runs', 'resume', id, file, '--actions', actions, '--json'], cwd)
  t.is(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type?: string; pending?: string[] })
  t.like(lines[0], { type: 'run.resumed', pending: ['nap'] })
  // first ran once, in the killed process: this process never counted it
  t.like(lines.at(-1), { type: 'output', output: { first: 1, nap: 'woke at attempt 2' } })
  t.false(lines.some((e) => e.type === 'task.started' && (e as { task?: string }).task === 'first'))
})

test('built-in actions: shell.exec only with --allow-shell; http.request with the task signal and retry on 503', async (t) => {
  const cwd = workdir()
  const off = await arcflow(['run', join(fixtures, 'shell.yaml')], cwd)
  t.is(off.code, 2)
  t.regex(off.stderr, /shell\.exec is off: pass --allow-shell/)
  const on = await arcflow(['run', join(fixtures, 'shell.yaml'), '--allow-shell', '--json'], cwd)
  t.is(on.code, 0, on.stderr)
  t.is(JSON.parse(on.stdout.trim().split('\n').at(-1)!).output, 'hello from the shell')

  let calls = 0
  const server = createServer((req, res) => {
    if (++calls === 1) {
      res.writeHead(503)
      return res.end('busy')
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ path: req.url, calls }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  try {
    const r = await arcflow(['run', join(fixtures, 'http.yaml'), '--input', JSON.stringify({ url: `http://127.0.0.1:${port}/answer` }), '--json'], cwd)
    t.is(r.code, 0, r.stderr)
    t.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!).output, { path: '/answer', calls: 2 })
    t.regex(r.stdout, /"code":"HTTP_503"/)
  } finally {
    server.close()
  }
})

test('report: one self-contained page; in a real browser its timeline shows every execution and a bar opens its details', async (t) => {
  const cwd = workdir()
  const r = await arcflow(['run', join(fixtures, 'report.yaml'), '--actions', join(fixtures, 'report-actions.mjs'), '--input', '{"count":30}'], cwd)
  t.is(r.code, 0, r.stderr)
  const id = runIdOf(r.stdout)
  const out = join(cwd, 'run.html')
  const report = await arcflow(['report', id, '--out', out], cwd)
  t.is(report.code, 0, report.stderr)
  t.regex(report.stdout, /wrote .*run\.html \(34 executions\)/)

  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    // offline: any request for something outside the file fails the test
    const external: string[] = []
    page.on('request', (req) => {
      if (!req.url().startsWith('file:')) external.push(req.url())
    })
    await page.goto(`file://${out}`)
    t.is(await page.textContent('#run-status'), 'succeeded')
    t.is(await page.textContent('#run-id'), id)
    t.is(await page.locator('.bar').count(), 34)
    t.is(await page.locator('.lane.items .bar').count(), 30)
    t.is(await page.locator('.bar.retrying').count(), 1)
    await page.locator('.bar.retrying').click()
    t.regex((await page.textContent('#details'))!, /flaky · step 1 · attempt 1 · retrying/)
    t.regex((await page.textContent('.execution-error'))!, /503 from upstream/)
    t.regex((await page.textContent('.execution-logs'))!, /calling upstream \{"call":1\}/)
    await page.locator('details', { hasText: 'Run output' }).locator('summary').click()
    t.regex((await page.textContent('#run-output'))!, /"items": 30/)
    const shot = join(cwd, 'report.png')
    await page.screenshot({ path: shot, fullPage: true })
    t.true(statSync(shot).size > 10_000, 'a screenshot of the page')
    t.deepEqual(external, [], 'the page works offline')
  } finally {
    await browser.close()
  }
})

test('on a terminal: a live view with a progress bar per with-items task, redrawn in place', async (t) => {
  const cwd = workdir()
  // `script` gives the command a real pseudo-terminal
  const child = spawn('script', ['-qfec', `${process.execPath} ${bin} run ${join(fixtures, 'fan.yaml')}`, '/dev/null'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  const r = await finish(child)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /\x1b\[/, 'escape codes: the view is redrawn in place')
  t.regex(r.stdout, /arcflow running fan · \S+/)
  t.regex(r.stdout, /fan [█░]{24} \d+\/40 · \d+\/s/, 'a progress bar with done/total and rate')
  t.regex(r.stdout, /✔.* fan 40 items/)
  t.regex(r.stdout, /✔ run \S+ succeeded/)
  t.notRegex(r.stdout, /item\.started/, 'not one plain line per event')
})
