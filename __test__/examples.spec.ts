// Every example runs as a user would run it (`node examples/X.mjs`, which
// imports 'arcflow' by name) and prints what it promises.
import test from 'ava'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = join(__dirname, '..')

async function example(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, [join(root, 'examples', name)], { cwd: root, timeout: 60_000 })
  return stdout
}

test('hello: fan-out, a retry, publish, join', async (t) => {
  const out = await example('hello.mjs')
  t.regex(out, /task\.retrying\s+greet #1/)
  t.regex(out, /report: '1\. HELLO ADA; 2\. HELLO GRACE; 3\. HELLO LINUS \(3 greeted\)'/)
})

test('fan-out: 1,000 items, never more than 8 in flight', async (t) => {
  const out = await example('fan-out.mjs')
  t.regex(out, /priced 1000 lines in \d+ ms, at most 8 in flight/)
  t.regex(out, /lines: 1000, total: 21481\.25/)
})

test('retry-timeout: backoff retries, then a timeout handled by a transition', async (t) => {
  const out = await example('retry-timeout.mjs')
  t.is(out.match(/task\.retrying\s+flaky/g)?.length, 2)
  t.regex(out, /task\.timed_out\s+slow attempt 2/)
  t.regex(out, /output: ok after 3 calls; answer from cache/)
})

test('branching: when, publish, join, fail, and a JSON Schema input', async (t) => {
  const out = await example('branching.mjs')
  t.regex(out, /settled: 'approved 1200 \/ sent: payment of 1200 received for review',\s+flags: \[\]/)
  t.regex(out, /flags: \[ 'high-risk' \]/)
  t.regex(out, /rejected: .*failed in task 'review'/)
  t.regex(out, /'input\.amount: must be >= 0'/)
})
