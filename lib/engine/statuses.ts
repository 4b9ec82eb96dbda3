/** The statuses of runs and executions: plain data the store and the engine share. */

/** Every status a run reads as, in the order a listing shows them (`waiting`: a running run with everything in flight parked). */
export const RUN_STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const
/**
 * A run's status: `queued` (enqueued, not yet claimed by a worker), then
 * `running` (`waiting` while everything in flight is a wait or a sleep)
 * until it ends `succeeded`, `failed`, `cancelled` or `timed_out`.
 */
export type RunStatus = (typeof RUN_STATUSES)[number]
/**
 * An execution's status (an attempt of a task, or of one item): `retrying`
 * is an attempt that failed with another to follow.
 */
export type ExecutionStatus = 'running' | 'retrying' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled'

/** Not ended: `running`, or `waiting` . */
export function isLive(status: RunStatus): status is 'running' | 'waiting' {
  return status === 'running' || status === 'waiting'
}
