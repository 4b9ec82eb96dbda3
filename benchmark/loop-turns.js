// What makes the event loop's slow turns slow during a 100,000-item run
// (engine-durable.bench.js's eventLoopDuringDurableRun, one mode per call):
// besides the delay histogram, the GC pauses (kinds, count, total), the
// turns over 2 ms late (a 1 ms interval's gaps) and the GC that overlapped
// each, heap growth, and optionally (--profile) the JS frames that were on
// the stack during those turns (a CPU profile of the run, sampled every
// 100 µs, cut to the slow windows). Load-robust measures first: counts of
// GC pauses and slow turns, not wall time.
//
//   node benchmark/loop-turns.js none|batched|sync [--items N] [--profile] [--rounds R] [--warm RUNS]
//
// --warm: first RUNS 10-task chain runs (64 at a time) on an engine kept
// open, as the benchmark's earlier suites leave the heap.
'use strict'
const { monitorEventLoopDelay, PerformanceObserver, performance } = require('node:perf_hooks')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const inspector = require('node:inspector')
const { Engine } = require(process.env.ARCFLOW ?? path.join(__dirname, '..'))

const args = process.argv.slice(2)
const modes = args.filter((a) => ['none', 'batched', 'sync'].includes(a))
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const items = option('--items', 100_000)
const rounds = option('--rounds', 1)
const profile = args.includes('--profile')
const warm = option('--warm', 0)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loop-turns-'))

const GC_KIND = { 1: 'scavenge', 2: 'minor-mc', 4: 'mark-compact', 8: 'incremental', 16: 'weak-cb' }

function post(session, method, params) {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))))
}

async function once(mode, round) {
  const engine = mode === 'none' ? new Engine() : new Engine({ store: `sqlite:${path.join(dir, `loop-${mode}-${round}.db`)}`, durability: mode })
  engine.action('io', (n) => new Promise((resolve) => setTimeout(() => resolve(n + 1), 1)))
  const fan = engine.workflow({ name: 'fan', tasks: { each: { action: 'io', with: { items: '{{ range(input) }}', concurrency: 64 }, input: '{{ item }}' } }, output: '{{ tasks.each.result | length }}' })

  const gcs = []
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, ms: e.duration, kind: GC_KIND[e.detail?.kind ?? e.kind] ?? String(e.detail?.kind) })
  })
  observer.observe({ entryTypes: ['gc'] })
  // a 1 ms interval: a gap over 3 ms is a turn that ran more than 2 ms late
  const gaps = []
  let last = performance.now()
  const ticker = setInterval(() => {
    const now = performance.now()
    if (now - last > 3) gaps.push({ from: last, to: now })
    last = now
  }, 1)

  let session
  if (profile) {
    session = new inspector.Session()
    session.connect()
    await post(session, 'Profiler.enable')
    await post(session, 'Profiler.setSamplingInterval', { interval: 100 })
    await post(session, 'Profiler.start')
  }
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  const heap0 = process.memoryUsage().heapUsed
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  histogram.enable()
  if (process.execArgv.includes('--trace-gc')) console.log('RUN-START')
  const output = await engine.run(fan, items)
  if (process.execArgv.includes('--trace-gc')) console.log('RUN-END')
  histogram.disable()
  const t1 = performance.now()
  const cpu = process.cpuUsage(cpu0)
  const heap1 = process.memoryUsage().heapUsed
  clearInterval(ticker)
  let cpuprofile
  if (profile) cpuprofile = (await post(session, 'Profiler.stop')).profile
  await new Promise((resolve) => setImmediate(resolve)) // the observer's last entries
  observer.disconnect()
  await engine.close()
  if (output !== items) throw new Error(`output ${output}, expected ${items}`)

  const excess = (ns) => Math.max(0, ns / 1e6 - 1)
  const inRun = gcs.filter((g) => g.start >= t0 && g.start <= t1)
  const byKind = {}
  for (const g of inRun) {
    const k = (byKind[g.kind] ??= { count: 0, ms: 0, maxMs: 0 })
    k.count++
    k.ms += g.ms
    k.maxMs = Math.max(k.maxMs, g.ms)
  }
  const gcIn = (gap) => inRun.filter((g) => g.start < gap.to && g.start + g.ms > gap.from)
  const slow = gaps.map((gap) => {
    const during = gcIn(gap)
    return { ms: gap.to - gap.from, gcMs: during.reduce((s, g) => s + g.ms, 0), gc: during.map((g) => g.kind).join(',') }
  })
  const result = {
    mode,
    round,
    seconds: (t1 - t0) / 1000,
    cpuUsPerItem: (cpu.user + cpu.system) / items,
    samples: histogram.count,
    delayMs: { p50: excess(histogram.percentile(50)), p99: excess(histogram.percentile(99)), max: excess(histogram.max) },
    slowTurns: slow.length,
    slowTurnsWithGc: slow.filter((s) => s.gcMs > 0).length,
    gc: byKind,
    heapGrowthBytesPerItem: (heap1 - heap0) / items,
    worst: slow.sort((a, b) => b.ms - a.ms).slice(0, 8).map((s) => `${s.ms.toFixed(1)}ms${s.gc ? ` (gc ${s.gc} ${s.gcMs.toFixed(1)}ms)` : ''}`),
  }
  console.log(JSON.stringify(result))
  if (cpuprofile) slowFrames(cpuprofile, gaps, mode)
}

/** The self time of the functions sampled inside the slow turns, top 25, and their callers' chains. */
function slowFrames(prof, gaps, mode) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // profile times are µs on the monotonic clock; performance.now() is ms since timeOrigin on the same clock
  const offsetMs = performance.now() - Number(process.hrtime.bigint()) / 1e6
  let t = prof.startTime
  const self = new Map()
  const stacks = new Map()
  let inside = 0
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i]
    const ms = t / 1000 + offsetMs
    if (!gaps.some((g) => ms >= g.from && ms <= g.to)) continue
    inside++
    const node = byId.get(prof.samples[i])
    const name = `${node.callFrame.functionName || '(anon)'} ${path.basename(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`
    self.set(name, (self.get(name) ?? 0) + 1)
    const chain = []
    for (let id = node.id; id !== undefined && chain.length < 6; id = parent.get(id)) {
      const f = byId.get(id).callFrame
      if (f.functionName === '(root)') break
      chain.push(`${f.functionName || '(anon)'}:${f.lineNumber + 1}`)
    }
    const key = chain.join(' < ')
    stacks.set(key, (stacks.get(key) ?? 0) + 1)
  }
  const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / inside).toFixed(1)}% ${k}`)
  console.log(`${mode}: ${inside} samples inside ${gaps.length} slow turns; self time:\n  ${top(self, 25).join('\n  ')}\nstacks:\n  ${top(stacks, 15).join('\n  ')}`)
}

async function warmUp(runs) {
  const engine = new Engine()
  engine.action('inc', async (n) => n + 1)
  const tasks = {}
  for (let i = 0; i < 10; i++) tasks[`t${i}`] = { action: 'inc', input: i === 0 ? '{{ input }}' : `{{ tasks.t${i - 1}.result }}`, ...(i < 9 ? { next: { do: `t${i + 1}` } } : {}) }
  const chain = engine.workflow({ name: 'chain', tasks, output: '{{ tasks.t9.result }}' })
  let started = 0
  const worker = async () => {
    while (started++ < runs) await engine.run(chain, 0)
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  return engine
}

async function main() {
  const kept = warm > 0 ? await warmUp(warm) : undefined
  for (let r = 0; r < rounds; r++) for (const mode of modes.length ? modes : ['none', 'batched']) await once(mode, r)
  await kept?.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
