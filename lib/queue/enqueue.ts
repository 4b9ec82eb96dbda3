/**
 * `engine.enqueue`: writes a run as `queued` for any worker to claim. Works
 * in a process with no actions registered (a producer): the workflow is
 * named, and checked only when this engine has loaded it. Every option is
 * checked before anything is written.
 */
import { InputError } from '../errors'
import { uuidv7 } from '../engine/run-id'
import { encode } from '../values'
import { inputProblems } from '../workflow/input'
import type { WorkflowDefinition } from '../workflow/model'
import type { QueueHost } from './host'
import { checkEnqueue, type Enqueued, type EnqueueOptions } from './options'

export async function enqueue(host: QueueHost, workflow: string | WorkflowDefinition, input: unknown, options?: EnqueueOptions): Promise<Enqueued> {
  host.open()
  const name = typeof workflow === 'string' ? workflow : (workflow as WorkflowDefinition | undefined)?.name
  const checked = checkEnqueue(name as string, options)
  const loaded = typeof workflow === 'string' ? host.workflow(workflow) : workflow
  if (loaded) {
    const problems = inputProblems(loaded.input, input)
    if (problems.length > 0) throw new InputError(`workflow '${loaded.name}' needs different input:\n${problems.map((p) => `  ${p}`).join('\n')}`, problems)
  }
  // a ValueError for an input that cannot be workflow data, before anything is written
  const inputJson = encode(input ?? null, 'input')
  const hub = host.hub()
  // a delay counts from the database's clock: only it decides what is due
  const runAt = checked.runAt ?? (checked.delayMs > 0 ? (await hub.client.nowMs()) + checked.delayMs : null)
  const [answer] = await hub.client.enqueue([
    { id: uuidv7(), workflow: name as string, input: inputJson, queue: checked.queue, key: checked.key ?? null, priority: checked.priority, runAt, account: checked.account ?? null, at: Date.now() },
  ])
  // this process's workers claim at once; other processes hear the database's notice
  if (answer!.created) hub.emit('enqueued', [checked.queue])
  return answer!
}
