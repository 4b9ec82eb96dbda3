/**
 * A run's history as the store answers it: the records the engine hands
 * out (`RunRecord`, `TaskRecord`, `EventRecord`), and their reading from
 * the native store's JSON rows (`Raw*`). Pure: the store (`store.ts`)
 * reads, these shape what it read.
 */
import type { ExecutionStatus, RunStatus } from '../engine/statuses'

export interface RunRecord {
  id: string
  workflow: string
  status: RunStatus
  input: unknown
  output?: unknown
  error?: unknown
  startedAt: number
  endedAt?: number
  /** The account that pays for the run (metered runs). */
  account?: string
  /** The version of the workflow the run runs (`WorkflowDefinition.version`); absent for runs from before versions were kept. */
  version?: string
  /** A sub-workflow's child: the run and the task of it that started this run. */
  parentId?: string
  parentTask?: string
}

/** One execution: an attempt of a task, or of one item. */
export interface TaskRecord {
  task: string
  /** The task's n-th activation in this run (cycles run a task again). */
  step: number
  /** With-items: the item's index. */
  item?: number
  attempt: number
  /** `running`, `retrying` (failed, another attempt follows), `succeeded`, `failed`, `timed_out` or `cancelled`. */
  status: ExecutionStatus
  result?: unknown
  error?: unknown
  /**
   * The input this attempt ran with, as rendered (durable runs, tasks and
   * items alike: an item's is journaled with its row when it ends, a
   * retried one's is the input of that attempt). Absent when the task
   * declares no input, and in a live run's records (built from its events).
   */
  input?: unknown
  /** Milliseconds since the epoch. */
  startedAt?: number
  endedAt?: number
}

/** One event of a run's journal: what a handler logged (`task.log`), or `run.resumed`. */
export interface EventRecord {
  kind: string
  task?: string
  item?: number
  attempt?: number
  message: string
  data?: unknown
  /** Milliseconds since the epoch. */
  at: number
}

export interface RawRun {
  id: string
  workflow: string
  status: string
  input: string
  output: string | null
  error: string | null
  startedAt: number
  endedAt: number | null
  account: string | null
  workflowHash: string | null
  parentId: string | null
  parentTask: string | null
}

export interface RawExecution {
  task: string
  step: number
  item: number
  attempt: number
  status: string
  payload: string | null
  input: string | null
  startedAt: number | null
  endedAt: number | null
}

/** A run's record as the native store answers it (JSON of the core's `RunRecord`). */
export function runRecord(raw: RawRun): RunRecord {
  const record: RunRecord = { id: raw.id, workflow: raw.workflow, status: raw.status as RunStatus, input: JSON.parse(raw.input), startedAt: raw.startedAt }
  if (raw.output !== null) record.output = JSON.parse(raw.output)
  if (raw.error !== null) record.error = JSON.parse(raw.error)
  if (raw.endedAt !== null) record.endedAt = raw.endedAt
  if (raw.account !== null) record.account = raw.account
  if (raw.workflowHash !== null) record.version = raw.workflowHash
  if (raw.parentId) record.parentId = raw.parentId
  if (raw.parentTask) record.parentTask = raw.parentTask
  return record
}

export interface RawEvent {
  kind: string
  task: string | null
  item: number | null
  attempt: number | null
  message: string
  data: string | null
  at: number
}

export interface RawRunInfo {
  run: RawRun
  tasks: RawExecution[]
  events: RawEvent[]
}

/** A run as the store has it: its record, executions and events. */
export interface StoredRun {
  record: RunRecord
  tasks: TaskRecord[]
  events: EventRecord[]
}

export function storedRun(raw: RawRunInfo): StoredRun {
  return { record: runRecord(raw.run), tasks: raw.tasks.map(taskRecord), events: raw.events.map(eventRecord) }
}

export function taskRecord(row: RawExecution): TaskRecord {
  const record: TaskRecord = { task: row.task, step: row.step, attempt: row.attempt, status: row.status as ExecutionStatus }
  if (row.item >= 0) record.item = row.item
  if (row.payload !== null) {
    if (row.status === 'succeeded') record.result = JSON.parse(row.payload)
    else record.error = JSON.parse(row.payload)
  }
  if (row.input !== null) record.input = JSON.parse(row.input)
  if (row.startedAt !== null) record.startedAt = row.startedAt
  if (row.endedAt !== null) record.endedAt = row.endedAt
  return record
}

export function eventRecord(row: RawEvent): EventRecord {
  const record: EventRecord = { kind: row.kind, message: row.message, at: row.at }
  if (row.task !== null) record.task = row.task
  if (row.item !== null) record.item = row.item
  if (row.attempt !== null) record.attempt = row.attempt
  if (row.data !== null) record.data = JSON.parse(row.data)
  return record
}
