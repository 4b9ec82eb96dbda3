// Runs examples/flows/hello.yaml in process and prints its events and output.
import { fileURLToPath } from 'node:url'
import { Engine } from 'arcflow'

const engine = new Engine()
let flaky = true
engine.action('greet', async ({ name, position }, ctx) => {
  // the first call fails once, to show a retry
  if (flaky && name === 'Grace') {
    flaky = false
    throw new Error('transient failure')
  }
  ctx.log(`greeting ${name}`)
  await new Promise((resolve) => setTimeout(resolve, 5))
  return `${position}. hello ${name}`
})
engine.action('shout', async ({ lines }) => lines.map((line) => line.toUpperCase()))
engine.action('count', async ({ n }) => `${n} greeted`)
engine.action('report', async ({ loud, total }) => `${loud.join('; ')} (${total})`)

const workflow = engine.load(fileURLToPath(new URL('./flows/hello.yaml', import.meta.url)))
const t0 = Date.now()
const run = engine.start(workflow, { names: ['Ada', 'Grace', 'Linus'] })
for await (const event of run.events()) {
  const where = [event.task, event.index !== undefined ? `#${event.index}` : '', event.attempt > 1 ? `attempt ${event.attempt}` : '']
    .filter(Boolean)
    .join(' ')
  const extra = event.type === 'task.retrying' ? ` after: ${event.error.message}` : event.type === 'task.log' ? ` ${event.message}` : ''
  console.log(`${String(event.time - t0).padStart(4)} ms  ${event.type.padEnd(15)} ${where}${extra}`)
}
console.log('\noutput:', await run.result())
