/**
 * A live run's task executions, read from its own events: history reads of
 * runs in flight never touch the database (the store's rows of a live run
 * may still be queued). The shape is the store's (`TaskRecord`).
 */
import type { EventRecord, TaskRecord } from '../store/store'
import type { RunEvent } from './events'
import type { Run } from './run'
import type { RunInfo } from './engine-types'

export function executionsFromEvents(events: readonly RunEvent[]): TaskRecord[] {
  const records: TaskRecord[] = []
  const steps = new Map<string, number>()
  // the latest record of each task (index -1) and item, by `task|index`
  const open = new Map<string, TaskRecord>()
  const start = (task: string, attempt: number, index: number, startedAt: number): void => {
    const record: TaskRecord = { task, step: steps.get(task) ?? 1, attempt, status: 'running', startedAt }
    if (index >= 0) record.item = index
    records.push(record)
    open.set(`${task}|${index}`, record)
  }
  for (const e of events) {
    switch (e.type) {
      case 'task.started':
        steps.set(e.task, (steps.get(e.task) ?? 0) + 1)
        start(e.task, e.attempt, -1, e.time)
        break
      case 'item.started':
        start(e.task, e.attempt, e.index, e.time)
        break
      case 'task.retrying': {
        const index = e.index ?? -1
        const record = open.get(`${e.task}|${index}`)
        if (record) Object.assign(record, { status: 'retrying', error: e.error, endedAt: e.time })
        start(e.task, e.attempt + 1, index, e.time + Math.round(e.delayMs))
        break
      }
      case 'item.completed': {
        const record = open.get(`${e.task}|${e.index}`)
        if (record) Object.assign(record, { attempt: e.attempt, status: e.status, endedAt: e.time })
        break
      }
      case 'task.succeeded':
      case 'task.failed':
      case 'task.timed_out': {
        const record = open.get(`${e.task}|-1`)
        if (!record) break
        record.attempt = e.attempt
        record.status = e.type.slice('task.'.length) as 'succeeded' | 'failed' | 'timed_out'
        record.endedAt = e.time
        if (e.type === 'task.succeeded') record.result = e.result
        else if (e.type === 'task.failed') record.error = e.error
        break
      }
    }
  }
  return records
}

/** A live run's journal of events (its `task.log` and `run.resumed` events), the store's shape. */
export function logsFromEvents(events: readonly RunEvent[]): EventRecord[] {
  const out: EventRecord[] = []
  for (const e of events) {
    if (e.type === 'task.log') {
      const record: EventRecord = { kind: e.type, task: e.task, attempt: e.attempt, message: e.message, at: e.time }
      if (e.index !== undefined) record.item = e.index
      if (e.data !== undefined) record.data = e.data
      out.push(record)
    } else if (e.type === 'run.resumed') {
      out.push({ kind: e.type, message: e.message, at: e.time })
    }
  }
  return out
}

/** What `engine.getRun` answers for a live run, from its own events (its children's are in its log too, under their ids). */
export function liveRunInfo(run: Run): RunInfo {
  const history = run.history().filter((e) => e.runId === run.id)
  return { id: run.id, workflow: run.workflow.name, version: run.workflow.version, status: run.status, live: true, tasks: executionsFromEvents(history), events: logsFromEvents(history) }
}
