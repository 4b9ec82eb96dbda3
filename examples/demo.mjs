// A tour of the native core: a shared context, per-item handles, and
// templates compiled once and rendered natively. Run: npm run demo
import { compile, compileCondition, ExpressionError, JsonTemplate, WorkflowContext } from 'arcflow'

const ctx = new WorkflowContext({
  input: { urls: ['https://example.org/a', 'https://example.org/b', 'https://example.org/c'], retries: 3 },
  vars: { token: 's3cret' },
  system: { run_id: 'demo-1', workflow: 'fetch-report', started_at: new Date() },
})
ctx.setTaskResult('fetch', { pages: [{ url: 'https://example.org/a', bytes: 5120 }, { url: 'https://example.org/b', bytes: 20480 }] })

const show = (label, value) => console.log(`${label.padEnd(44)} → ${JSON.stringify(value)}`)

console.log('— values keep their type when a string is exactly one {{ expr }}')
show('{{ input.urls | length }}', ctx.render('{{ input.urls | length }}'))
show('{{ tasks.fetch.result.pages | map(attribute="bytes") | sum }}', ctx.render('{{ tasks.fetch.result.pages | map(attribute="bytes") | sum }}'))
show('{{ input.urls[1:] }}', ctx.render('{{ input.urls[1:] }}'))
show('Run {{ system.run_id }} of {{ system.workflow }}', ctx.render('Run {{ system.run_id }} of {{ system.workflow }}'))

console.log('\n— one compiled task input, rendered per item (each item handle is O(1))')
const input = new JsonTemplate({ url: '{{ item }}', headers: { authorization: 'Bearer {{ vars.token }}' }, attempt: '{{ index + 1 }}', retries: '{{ input.retries }}' })
ctx.render('{{ input.urls }}').forEach((url, i) => show(`item ${i}`, ctx.withItem(url, i).renderJson(input)))

console.log('\n— conditions, with the outcome of the task being evaluated')
const big = compileCondition('{{ succeeded() and result().bytes > 10000 }}')
for (const page of ctx.get('tasks.fetch.result.pages')) {
  show(`${page.url} is big?`, ctx.withOutcome({ status: 'succeeded', result: page }).evaluate(big))
}

console.log('\n— every handle shares the same variables')
const worker = ctx.withItem('x', 0)
worker.setVar('total', 2)
show('ctx.getVar("total") after a worker set it', ctx.getVar('total'))

console.log('\n— errors say what and where')
try {
  compile('Total: {{ vars.total + }}')
} catch (error) {
  if (!(error instanceof ExpressionError)) throw error
  console.log(`${error.name} [${error.code}, ${error.kind}] line ${error.line}, column ${error.column}: ${error.detail}`)
}

console.log('\n— the whole context exports to JSON and imports back exactly')
const restored = WorkflowContext.import(ctx.export())
show('restored.get("tasks.fetch.result.pages[1].bytes")', restored.get('tasks.fetch.result.pages[1].bytes'))
