// Issue 11: native memory is visible to V8 and ended runs leave nothing
// behind. The soak runs in a child process started with --expose-gc (ava's
// nodeArguments apply to every file), so its RSS is its own and its heap
// is measured after a full collection.
import test from 'ava'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

import { Engine, WorkflowContext } from '../lib/index'
import { native } from '../lib/binding'

interface Sample {
  runs: number
  seconds: number
  rssMB: number
  heapUsedMB: number
  externalMB: number
  nativeReportedBytes: number
  peakReportedBytes: number
  peakLiveRuns: number
  liveRuns: number
}

const RUNS = 200_000
const EVERY = 20_000
const CONCURRENCY = 64
// After the warm-up (the first 20,000 runs), over the next 180,000: heap
// used after a full GC may move by 4 MB, RSS by 32 MB (allocator and JIT
// noise on a debug build). A leak of even 40 bytes per run would add 7 MB
// of heap; a run's native state (over 2 KB) 360 MB of RSS.
const HEAP_BOUND_MB = 4
const RSS_BOUND_MB = 32

function soak(): Promise<Sample[]> {
  const script = join(__dirname, '..', 'benchmark', 'leak-soak.js')
  const args = ['--expose-gc', script, '--runs', String(RUNS), '--every', String(EVERY), '--concurrency', String(CONCURRENCY), '--json']
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`the soak failed: ${stderr}`, { cause: error }))
      resolve(stdout.trim().split('\n').map((line) => JSON.parse(line) as Sample))
    })
  })
}

test('200,000 in-memory runs: heap and RSS stay flat after the warm-up, no run is left in the native registry, reported native memory returns to zero', async (t) => {
  t.timeout(170_000)
  const samples = await soak()
  const [start, warm] = [samples[0]!, samples[1]!]
  const last = samples.at(-1)!
  t.is(last.runs, RUNS)
  t.log(`${RUNS} runs in ${last.seconds} s; RSS ${warm.rssMB} → ${last.rssMB} MB, heap used ${warm.heapUsedMB} → ${last.heapUsedMB} MB (after the warm-up → after the last run)`)
  for (const s of samples.slice(2)) {
    t.true(s.heapUsedMB - warm.heapUsedMB <= HEAP_BOUND_MB, `heap used ${s.heapUsedMB} MB after ${s.runs} runs, ${warm.heapUsedMB} MB after the warm-up`)
    t.true(s.rssMB - warm.rssMB <= RSS_BOUND_MB, `RSS ${s.rssMB} MB after ${s.runs} runs, ${warm.rssMB} MB after the warm-up`)
    t.true(Math.abs(s.externalMB - warm.externalMB) <= 1, `external ${s.externalMB} MB after ${s.runs} runs`)
    t.is(s.liveRuns, 0, `the native registry after ${s.runs} runs`)
    t.is(s.nativeReportedBytes, start.nativeReportedBytes, `native memory reported after ${s.runs} runs`)
  }
  // while runs were live, their native state was reported (about 2 KB each)
  t.true(last.peakLiveRuns > 0 && last.peakLiveRuns <= CONCURRENCY, `peak live runs ${last.peakLiveRuns}`)
  t.true(last.peakReportedBytes >= last.peakLiveRuns * 2048, `peak reported ${last.peakReportedBytes} B`)
})

// a full collection in this worker: `global.gc` without --expose-gc
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !done(); i++) {
    gc()
    // napi-rs runs class finalizers after the collection, on a later turn
    await new Promise((resolve) => setImmediate(resolve))
  }
  return done()
}

test.serial('a context imported from a large document reports its size to V8 and releases exactly that when collected', async (t) => {
  const before = native.nativeMemoryReported()
  let ctx: WorkflowContext | undefined = WorkflowContext.import({ version: 1, input: { rows: Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `row ${i}` })) } })
  const reported = native.nativeMemoryReported() - before
  t.true(reported > 20_000 * 40, `${reported} B reported for 20,000 rows`)
  t.is(ctx.get('input.rows[19999].id'), 19_999)
  ctx = undefined
  t.true(await collectUntil(() => native.nativeMemoryReported() === before), `${native.nativeMemoryReported() - before} B still reported`)
})

test.serial('a live run reports its native state while it runs and releases it when it ends, whichever way', async (t) => {
  const engine = new Engine()
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  engine.action('wait', async () => gate)
  engine.action('boom', async () => { throw new Error('boom') })
  const waiting = engine.workflow({ name: 'waiting', tasks: { a: { action: 'wait', input: '{{ input }}' } } })
  const failing = engine.workflow({ name: 'failing', tasks: { a: { action: 'boom' } } })
  const before = native.nativeMemoryReported()
  const big = 'x'.repeat(100_000)
  const runs = [engine.start(waiting, big), engine.start(waiting, big), engine.start(failing), engine.start(waiting, big, { timeout: 1 })]
  t.true(native.nativeMemoryReported() - before >= 3 * 100_000, 'the runs\' inputs are reported')
  const cancelled = runs[1]!.cancel()
  await t.throwsAsync(runs[2]!.result(), { code: 'ARCFLOW_RUN_FAILED' })
  await t.throwsAsync(runs[3]!.result(), { code: 'ARCFLOW_RUN_TIMED_OUT' })
  await cancelled
  release()
  await runs[0]!.result()
  await t.throwsAsync(runs[1]!.result(), { code: 'ARCFLOW_RUN_CANCELLED' })
  t.is(native.nativeMemoryReported(), before)
  t.is(native.liveRunCount(), 0)
  await engine.close()
})
