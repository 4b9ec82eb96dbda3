// A leak soak: many short in-memory runs (two chained tasks, trivial
// actions) with bounded concurrency, printing RSS, V8 heap used, external
// memory and the native memory the binding reports to V8 every so many
// runs. Flat figures after the warm-up mean ended runs leave nothing
// behind. Not a *.bench.js: `benchmark/run.js` does not pick it up.
//
//   node --expose-gc benchmark/leak-soak.js [--runs 1000000] [--every 100000] [--concurrency 64] [--json]
//
// `--json` prints one JSON object per sample (what __test__/leak.spec.ts reads).
'use strict'
const path = require('node:path')

const root = path.join(__dirname, '..')
const { Engine } = require(path.join(root, 'dist', 'index.js'))
const native = require(path.join(root, 'lib', 'native.js'))

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}
const runs = option('runs', 1_000_000)
const every = option('every', 100_000)
const concurrency = option('concurrency', 64)
const json = process.argv.includes('--json')

const engine = new Engine()
engine.action('inc', async (n) => n + 1)
const workflow = engine.workflow({
  name: 'soak',
  tasks: { a: { action: 'inc', input: '{{ input }}', next: { do: 'b' } }, b: { action: 'inc', input: '{{ tasks.a.result }}' } },
  output: '{{ tasks.b.result }}',
})

// without --expose-gc the figures include garbage not yet collected
const collect = typeof global.gc === 'function' ? () => global.gc() : () => {}

function sample(done, startedAt, peak) {
  collect()
  const m = process.memoryUsage()
  return {
    runs: done,
    seconds: Number(((Date.now() - startedAt) / 1000).toFixed(2)),
    rssMB: Number((m.rss / 2 ** 20).toFixed(1)),
    heapUsedMB: Number((m.heapUsed / 2 ** 20).toFixed(2)),
    externalMB: Number((m.external / 2 ** 20).toFixed(2)),
    nativeReportedBytes: native.nativeMemoryReported(),
    peakReportedBytes: peak.reported,
    peakLiveRuns: peak.live,
    liveRuns: native.liveRunCount(),
  }
}

function print(row) {
  if (json) console.log(JSON.stringify(row))
  else console.log([row.runs, row.seconds, row.rssMB, row.heapUsedMB, row.externalMB, row.nativeReportedBytes, row.liveRuns].map(String).map((s) => s.padStart(12)).join(''))
}

async function main() {
  if (!json) console.log(['runs', 'seconds', 'rss MB', 'heap MB', 'external MB', 'reported B', 'live runs'].map((s) => s.padStart(12)).join(''))
  const startedAt = Date.now()
  const peak = { reported: 0, live: 0 }
  print(sample(0, startedAt, peak))
  let started = 0
  let done = 0
  // one batch of `every` runs at a time, so that each sample sees every run of it ended
  while (done < runs) {
    const batchEnd = Math.min(runs, done + every)
    const worker = async () => {
      while (started < batchEnd) {
        started++
        const result = engine.run(workflow, 1)
        if (started % 1000 === 0) {
          peak.reported = Math.max(peak.reported, native.nativeMemoryReported())
          peak.live = Math.max(peak.live, native.liveRunCount())
        }
        if ((await result) !== 3) throw new Error('a soak run gave a wrong output')
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    done = batchEnd
    // let timers and microtasks of the ended runs settle before measuring
    await new Promise((resolve) => setImmediate(resolve))
    print(sample(done, startedAt, peak))
  }
  await engine.close()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
