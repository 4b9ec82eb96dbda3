/**
 * The live events of a durable run that its task executions do not imply
 * (`task.waiting`, `task.cached`, `task.child`, a stored signal's delivery),
 * journaled as events of the
 * run, so that a stream rebuilt from the store (`server/replay.ts`: after a
 * restart, or a run another worker ran) shows them with the same fields
 * and time. They ride the write-behind queue with the run's other writes:
 * no transaction of their own. `signal.received` is journaled by the
 * signal itself (`run.signal`); `join.blocked` and
 * `billing.insufficient_balance` come right before the run's failure and
 * are rebuilt from its error.
 */
import { native } from '../binding'
import type { RunEvent } from './events'

const JOURNALED: ReadonlySet<string> = new Set(['task.waiting', 'task.cached', 'task.child', 'signal.delivered'])

interface Host {
  readonly durable: boolean
  readonly handle: number
  readonly workflow: { readonly taskList: ReadonlyArray<{ readonly name: string }> }
  crossings: number
}

/**
 * Journals `event` as `kind` (its type by default) when the run is durable
 * and the kind is one of those above. `signal.delivered`: a signal another
 * process stored (`signal.stored`), taken into the run here.
 */
export function journalEvent(host: Host, event: RunEvent, kind: string = event.type): void {
  if (!host.durable || !JOURNALED.has(kind)) return
  const { type: _type, runId: _runId, time, task, attempt, index, ...fields } = event as RunEvent & { task?: string; attempt?: number; index?: number }
  const taskIndex = task === undefined ? -1 : host.workflow.taskList.findIndex((t) => t.name === task)
  host.crossings++
  try {
    native.runEvent(host.handle, kind, taskIndex, attempt ?? 0, index ?? -1, JSON.stringify(fields), time)
  } catch {
    // the run's state is gone (it ended meanwhile): nothing to journal it with
  }
}
