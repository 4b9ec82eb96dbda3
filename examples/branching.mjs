// Branching with when / publish / join, and a JSON Schema input.
// Run: node examples/branching.mjs
import { fileURLToPath } from 'node:url'
import { Engine, InputError, RunFailedError } from 'arcflow'

const engine = new Engine()
  .action('risk.score', async ({ amount, country }) => Math.min(100, Math.round(amount / 100) + (country === 'XX' ? 50 : 0)))
  .action('risk.review', async ({ amount }) => ({ approved: amount < 9000 }))
  .action('payment.approve', async ({ amount }) => `approved ${amount}`)
  .action('customer.notify', async ({ message }) => `sent: ${message}`)
  .action('payment.settle', async ({ approval, notified }) => `${approval} / ${notified}`)

const workflow = engine.load(fileURLToPath(new URL('./flows/branching.yaml', import.meta.url)))
console.log('low risk: ', await engine.run(workflow, { amount: 1200, country: 'DE' }))
console.log('reviewed: ', await engine.run(workflow, { amount: 3000, country: 'XX' }))
try {
  await engine.run(workflow, { amount: 9500, country: 'XX' })
} catch (error) {
  if (!(error instanceof RunFailedError)) throw error
  console.log('rejected: ', error.message)
}
try {
  engine.start(workflow, { amount: -5, country: 'Germany' })
} catch (error) {
  if (!(error instanceof InputError)) throw error
  console.log('bad input:', error.problems)
}
