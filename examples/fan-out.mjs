// Prices 1,000 order lines with at most 8 quotes in flight, then totals
// them. Run: node examples/fan-out.mjs
import { fileURLToPath } from 'node:url'
import { Engine } from 'arcflow'

const engine = new Engine()
let inFlight = 0
let peak = 0
engine.action('price.quote', async ({ sku, qty, currency, line }) => {
  peak = Math.max(peak, ++inFlight)
  await new Promise((resolve) => setTimeout(resolve, 1)) // a remote price service
  inFlight--
  return { line, sku, amount: qty * (sku.length * 1.25), currency }
})
engine.action('price.total', async ({ lines }) => lines.reduce((sum, l) => sum + l.amount, 0))

const workflow = engine.load(fileURLToPath(new URL('./flows/fan-out.yaml', import.meta.url)))
const orders = Array.from({ length: 1000 }, (_, i) => ({ sku: `SKU-${i % 37}`, qty: 1 + (i % 5) }))
const started = performance.now()
const run = engine.start(workflow, { orders })
let items = 0
for await (const event of run.events()) if (event.type === 'item.completed') items++
const output = await run.result()
console.log(`priced ${items} lines in ${(performance.now() - started).toFixed(0)} ms, at most ${peak} in flight`)
console.log('output:', output)
