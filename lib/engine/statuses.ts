/** The statuses of runs and executions: plain data the store and the engine share. */

/** Every status a run can have, in the order a listing shows them. */
export const RUN_STATUSES = ['running', 'waiting', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const
/** A run's status: `running` (`waiting` while everything in flight is a wait or a sleep) until it ends `succeeded`, `failed`, `cancelled` or `timed_out`. */
export type RunStatus = (typeof RUN_STATUSES)[number]
/**
 * An execution's status (an attempt of a task, or of one item): `retrying`
 * is an attempt that failed with another to follow.
 */
export type ExecutionStatus = 'running' | 'retrying' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled'
