/**
 * The live events of a durable run that its task executions do not imply
 * (`task.waiting`, `task.cached`, `task.child`), journaled as events of the
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

const JOURNALED: ReadonlySet<string> = new Set(['task.waiting', 'task.cached', 'task.child'])

interface Host {
  readonly durable: boolean
  readonly handle: number
  readonly workflow: { readonly taskList: ReadonlyArray<{ readonly name: string }> }
  crossings: number
}

/** Journals `event` when the run is durable and the event is one of those above. */
export function journalEvent(host: Host, event: RunEvent): void {
  if (!host.durable || !JOURNALED.has(event.type)) return
  const { type, runId: _runId, time, task, attempt, index, ...fields } = event as RunEvent & { task: string; attempt: number; index?: number }
  const taskIndex = host.workflow.taskList.findIndex((t) => t.name === task)
  host.crossings++
  try {
    native.runEvent(host.handle, type, taskIndex, attempt, index ?? -1, JSON.stringify(fields), time)
  } catch {
    // the run's state is gone (it ended meanwhile): nothing to journal it with
  }
}
