/**
 * `engine.enqueue` and `engine.enqueueMany`: write runs as `queued` for any
 * worker to claim. Work in a process with no actions registered (a
 * producer): the workflow is named, and checked only when this engine has
 * loaded it. Every option and input is checked before anything is written.
 * Concurrent calls are group-committed (`group.ts`); `enqueueMany` sends
 * its runs `GROUP_MAX` at a time, one transaction each.
 */
import { InputError } from '../errors'
import { uuidv7 } from '../engine/run-id'
import { encode } from '../values'
import { inputProblems } from '../workflow/input'
import type { WorkflowDefinition } from '../workflow/model'
import { GROUP_MAX } from './group'
import type { QueueHost } from './host'
import type { NewRun } from './native'
import { checkEnqueue, type Enqueued, type EnqueueOptions } from './options'

export async function enqueue(host: QueueHost, workflow: string | WorkflowDefinition, input: unknown, options?: EnqueueOptions): Promise<Enqueued> {
  const [answer] = await enqueueRuns(host, workflow, [input], options)
  return answer!
}

export async function enqueueMany(host: QueueHost, workflow: string | WorkflowDefinition, inputs: unknown[], options?: Omit<EnqueueOptions, 'key'>): Promise<Enqueued[]> {
  if (!Array.isArray(inputs)) throw new InputError('enqueueMany: inputs must be an array of inputs', ['inputs: must be an array'])
  if ((options as EnqueueOptions | undefined)?.key !== undefined) {
    // one key names one run: many runs take keys through concurrent `enqueue` calls (group-committed too)
    throw new InputError('enqueueMany: options.key names one run; call enqueue per keyed run', ['options.key: not allowed for many runs'])
  }
  return enqueueRuns(host, workflow, inputs, options)
}

async function enqueueRuns(host: QueueHost, workflow: string | WorkflowDefinition, inputs: unknown[], options?: EnqueueOptions): Promise<Enqueued[]> {
  host.open()
  const name = typeof workflow === 'string' ? workflow : (workflow as WorkflowDefinition | undefined)?.name
  const checked = checkEnqueue(name as string, options)
  const loaded = typeof workflow === 'string' ? host.workflow(workflow) : workflow
  const encoded = inputs.map((input, i) => {
    if (loaded) {
      const problems = inputProblems(loaded.input, input)
      const which = inputs.length > 1 ? ` (input ${i})` : ''
      if (problems.length > 0) throw new InputError(`workflow '${loaded.name}' needs different input${which}:\n${problems.map((p) => `  ${p}`).join('\n')}`, problems)
    }
    // a ValueError for an input that cannot be workflow data, before anything is written
    return encode(input ?? null, 'input')
  })
  const hub = host.hub()
  // a delay counts from the database's clock: only it decides what is due
  const runAt = checked.runAt ?? (checked.delayMs > 0 ? (await hub.client.nowMs()) + checked.delayMs : null)
  const at = Date.now()
  const runs: NewRun[] = encoded.map((inputJson) => ({
    id: uuidv7(), workflow: name as string, input: inputJson, queue: checked.queue, key: checked.key ?? null, priority: checked.priority, runAt, account: checked.account ?? null, at,
  }))
  const chunks: Array<Promise<Enqueued[]>> = []
  for (let from = 0; from < runs.length; from += GROUP_MAX) chunks.push(hub.enqueues.add(runs.slice(from, from + GROUP_MAX)))
  const answers = (await Promise.all(chunks)).flat()
  // this process's workers claim at once; other processes hear the database's notice
  if (answers.some((a) => a.created)) hub.emit('enqueued', [checked.queue])
  return answers
}
