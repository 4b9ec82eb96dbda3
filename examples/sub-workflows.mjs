// Sub-workflows, the task result cache and idempotent starts (issue 14).
// node examples/sub-workflows.mjs
import { Engine } from 'arcflow'

const engine = new Engine()
let llmCalls = 0
engine.action('llm.complete', async ({ doc }) => { llmCalls++; return `summary of ${doc}` })
engine.action('notify', async ({ customer }) => `welcomed ${customer}`)

engine.workflow({ name: 'onboarding', tasks: { hello: { action: 'notify', input: { customer: '{{ input.customer }}' } } }, output: '{{ tasks.hello.result }}' })
const wf = engine.workflow({
  name: 'daily',
  tasks: {
    per_customer: { workflow: 'onboarding', with: { items: '{{ input.customers }}', concurrency: 8 }, input: { customer: '{{ item }}' }, next: { do: 'summarize' } },
    summarize: { action: 'llm.complete', input: { doc: '{{ input.doc_id }}' }, cache: { key: '{{ input.doc_id }}', ttl: '1h' } },
  },
  output: { welcomed: '{{ tasks.per_customer.result }}', summary: '{{ tasks.summarize.result }}' },
})

const input = { customers: ['ada', 'grace'], doc_id: 'doc-7' }
console.log(await engine.run(wf, input, { idempotencyKey: 'daily-2026-01-01' }))
console.log(await engine.run(wf, input, { idempotencyKey: 'daily-2026-01-01' })) // the same run, not another
await engine.run(wf, input) // a new run: `summarize` is a cache hit
console.log(`llm calls: ${llmCalls}`) // 1
