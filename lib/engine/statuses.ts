/** The statuses of runs and executions: plain data the store and the engine share. */

/** Every status the store keeps for a run, in the order a listing shows them (a live run may also be `waiting`). */
export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const
/**
 * A run's status: `queued` (enqueued, not yet claimed by a worker), then
 * `running` (`waiting` while everything in flight is a wait or a sleep)
 * until it ends `succeeded`, `failed`, `cancelled` or `timed_out`.
 */
export type RunStatus = (typeof RUN_STATUSES)[number] | 'waiting'
/**
 * An execution's status (an attempt of a task, or of one item): `retrying`
 * is an attempt that failed with another to follow.
 */
export type ExecutionStatus = 'running' | 'retrying' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled'
