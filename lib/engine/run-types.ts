/** The shapes around a run: its status, how it is started, what it counts. */
import type { DurableStore } from '../store/store'
import type { Action } from './attempt'
import type { EventLog, RunEvent } from './events'
import type { RunMeter } from './metering'
import type { RunStatus } from './statuses'

export { RUN_STATUSES, type ExecutionStatus, type RunStatus } from './statuses'
export type CancelPolicy = 'cancel_running' | 'allow_finish'

export interface RunOptions {
  runId: string
  signal?: AbortSignal | undefined
  timeoutMs?: number | undefined
  /** The action of each task, by task index. */
  actions: Action[]
  listeners: Array<(event: RunEvent) => void>
  /** Called once when the run ends. */
  onEnd?: (runId: string) => void
  /** Where a durable run journals its progress (none: in memory only). */
  store?: DurableStore | undefined
  /** With a store: `sync` acknowledges a completion once it is on disk. */
  durability?: Durability | undefined
  /** Resume run `runId` from the store instead of starting it (the input is ignored). */
  resume?: boolean | undefined
  /** Metered runs: the meter, the paying account and the tasks' costs. */
  meter?: RunMeter | undefined
  /** A sub-workflow's child run: its parent's task that started it (see `subflows.ts`). */
  parent?: ParentLink | undefined
  /** Start tasks only once `begin()` is called (a child: its parent's task calls it), not on the next tick. */
  deferred?: boolean | undefined
  /** A run that ended before this engine saw it (an idempotent start's key answered it from the store). */
  ended?: { status: Exclude<RunStatus, 'running'>; output: unknown; error: Error | undefined } | undefined
}

/** What a child run knows of its parent. */
export interface ParentLink {
  id: string
  task: string
  /** The parent's nesting depth (a top-level run: 0). */
  depth: number
  /** The parent's event log: the child's events are kept there too. */
  log: EventLog
}

export type Durability = 'none' | 'batched' | 'sync'

/** Counters of a run, for tests and tuning. */
export interface RunStats {
  /** Task activations started. */
  tasks: number
  /** Calls from JavaScript into the native core. */
  nativeCalls: number
}
