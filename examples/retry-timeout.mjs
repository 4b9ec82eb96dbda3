// Retries and timeouts, with the events that show them.
// Run: node examples/retry-timeout.mjs
import { fileURLToPath } from 'node:url'
import { Engine } from 'arcflow'

const engine = new Engine()
let calls = 0
engine.action('service.flaky', async () => {
  if (++calls < 3) throw Object.assign(new Error(`503 from upstream (call ${calls})`), { code: 'E503' })
  return `ok after ${calls} calls`
})
engine.action('service.slow', (input, { signal }) =>
  // honours its signal: the timeout aborts the pending work at once
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve('live answer'), 1000)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  }),
)
engine.action('service.answer', async ({ flaky, source }) => `${flaky}; answer from ${source}`)

const workflow = engine.load(fileURLToPath(new URL('./flows/retry-timeout.yaml', import.meta.url)))
const run = engine.start(workflow)
const t0 = Date.now()
for await (const e of run.events()) {
  const detail = e.type === 'task.retrying' ? ` (${e.error.message}; next try in ${Math.round(e.delayMs)} ms)` : ''
  console.log(`${String(e.time - t0).padStart(4)} ms  ${e.type.padEnd(15)} ${e.task ?? ''} ${e.attempt > 1 ? `attempt ${e.attempt}` : ''}${detail}`)
}
console.log('output:', await run.result())
