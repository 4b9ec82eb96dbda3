// Runs examples/flows/hello.yaml in process and prints its events and output.
import { fileURLToPath } from 'node:url'
import { Engine } from 'arcflow'
import actions from './hello-actions.mjs'

const engine = new Engine()
// the same actions the command line uses (examples/hello-actions.mjs)
for (const [name, action] of Object.entries(actions)) engine.action(name, action)

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
