// A run that waits for a person: `wait` takes the signal's payload as its
// result, or times out; `sleep` waits until a time. Run: node examples/approval.mjs
import { Engine } from 'arcflow'

const engine = new Engine()
engine.action('ship', ({ by }) => `shipped, approved by ${by}`)
engine.action('escalate', () => 'escalated')
const wf = engine.workflow({
  name: 'approval',
  tasks: {
    approve: {
      wait: { signal: 'approval', timeout: '24h' },
      next: [
        { when: '{{ succeeded() and result().ok }}', do: 'cool_down' },
        { when: '{{ timed_out() }}', do: 'escalate' },
      ],
    },
    cool_down: { sleep: '50ms', next: { do: 'ship' } },
    ship: { action: 'ship', input: { by: '{{ tasks.approve.result.by }}' } },
    escalate: { action: 'escalate' },
  },
  output: '{{ tasks.ship.result or tasks.escalate.result }}',
})
const run = engine.start(wf, {})
setTimeout(() => void engine.signal(run.id, 'approval', { ok: true, by: 'ana' }), 20)
console.log(await run.result())
await engine.close()
