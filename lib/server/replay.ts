/**
 * A run's events rebuilt from the store (`engine.getRun`), for runs not
 * live in this process: the journal keeps executions, logs, resumes and
 * the run's end, not each event, so the stream is derived from them in the
 * order the engine emits them: by time, and within one millisecond a
 * task's start before its logs and end, an end before what started after
 * it, a with-items task's start before its items. Events the journal does
 * not keep (`task.items` counts are rebuilt from the items; `join.blocked`
 * and `billing.insufficient_balance` are not) are absent.
 */
import type { RunEvent } from '../engine/events'
import type { RunInfo } from '../engine/engine-types'
import type { TaskRecord } from '../store/store'

interface Keyed {
  time: number
  key: number
  event: RunEvent
}

export function replayEvents(info: RunInfo): RunEvent[] {
  const runId = info.id
  const out: Keyed[] = []
  const t0 = info.startedAt ?? 0
  out.push({ time: t0, key: -1, event: { type: 'run.started', runId, time: t0, workflow: info.workflow, input: info.input } })
  const tasks = info.tasks
  // the record of each task activation (not item) seen first: where its items and logs sort
  const firstOf = new Map<string, number>()
  tasks.forEach((x, i) => {
    if (x.item === undefined && !firstOf.has(`${x.task}|${x.step}`)) firstOf.set(`${x.task}|${x.step}`, i)
  })
  const activationKey = (x: TaskRecord, i: number): number => 2 * (firstOf.get(`${x.task}|${x.step}`) ?? i)
  const itemCounts = new Map<string, number>()
  for (const x of tasks) if (x.item !== undefined) itemCounts.set(`${x.task}|${x.step}`, (itemCounts.get(`${x.task}|${x.step}`) ?? 0) + 1)

  const started = new Set<string>()
  tasks.forEach((x, i) => {
    const base = { runId, task: x.task, attempt: x.attempt }
    const start = x.startedAt ?? x.endedAt ?? t0
    if (x.item !== undefined) {
      const k = activationKey(x, i) + 0.5 + i * 1e-6
      out.push({ time: start, key: k, event: { ...base, type: 'item.started', index: x.item, time: start } })
      if (x.endedAt !== undefined && (x.status === 'succeeded' || x.status === 'failed' || x.status === 'timed_out')) {
        out.push({ time: x.endedAt, key: 2 * i + 1, event: { ...base, type: 'item.completed', index: x.item, status: x.status, time: x.endedAt } })
      }
      return
    }
    const activation = `${x.task}|${x.step}`
    if (!started.has(activation)) {
      started.add(activation)
      out.push({ time: start, key: 2 * i, event: { ...base, type: 'task.started', time: start } })
      const count = itemCounts.get(activation)
      if (count !== undefined) out.push({ time: start, key: 2 * i + 0.25, event: { ...base, type: 'task.items', count, time: start } })
    }
    if (x.endedAt === undefined) return
    const end = { time: x.endedAt, key: 2 * i + 1 }
    switch (x.status) {
      case 'retrying': {
        const next = tasks.find((y) => y.task === x.task && y.step === x.step && y.item === undefined && y.attempt === x.attempt + 1)
        const delayMs = next?.startedAt !== undefined ? Math.max(0, next.startedAt - x.endedAt) : 0
        out.push({ ...end, event: { ...base, type: 'task.retrying', error: x.error as never, delayMs, time: x.endedAt } })
        break
      }
      case 'succeeded':
        out.push({ ...end, event: { ...base, type: 'task.succeeded', result: x.result, time: x.endedAt } })
        break
      case 'failed':
        out.push({ ...end, event: { ...base, type: 'task.failed', error: x.error as never, time: x.endedAt } })
        break
      case 'timed_out':
        out.push({ ...end, event: { ...base, type: 'task.timed_out', time: x.endedAt } })
        break
    }
  })
  for (const e of info.events) {
    if (e.kind === 'task.log' && e.task !== undefined) {
      const owner = tasks.findIndex((x) => x.task === e.task && x.attempt === e.attempt && x.item === e.item)
      const event: RunEvent = { type: 'task.log', runId, task: e.task, attempt: e.attempt ?? 1, message: e.message, time: e.at }
      if (e.item !== undefined) event.index = e.item
      if (e.data !== undefined) event.data = e.data
      out.push({ time: e.at, key: 2 * Math.max(owner, 0) + 0.75, event })
    } else if (e.kind === 'run.resumed') {
      out.push({ time: e.at, key: -0.5, event: { type: 'run.resumed', runId, workflow: info.workflow, pending: [], message: e.message, time: e.at } })
    }
  }
  const tEnd = info.endedAt
  if (tEnd !== undefined) {
    const endKey = Number.MAX_SAFE_INTEGER
    switch (info.status) {
      case 'succeeded':
        out.push({ time: tEnd, key: endKey, event: { type: 'run.succeeded', runId, output: info.output, time: tEnd } })
        break
      case 'failed': {
        const failed = [...tasks].reverse().find((x) => x.status === 'failed' || x.status === 'timed_out')
        const event: RunEvent = { type: 'run.failed', runId, error: info.error as never, time: tEnd }
        if (failed) event.task = failed.task
        out.push({ time: tEnd, key: endKey, event })
        break
      }
      case 'cancelled':
        out.push({ time: tEnd, key: endKey, event: { type: 'run.cancelled', runId, time: tEnd } })
        break
      case 'timed_out':
        out.push({ time: tEnd, key: endKey, event: { type: 'run.timed_out', runId, time: tEnd } })
        break
    }
  }
  // a sort is stable: equal keys keep the order they were pushed in
  out.sort((a, b) => a.time - b.time || a.key - b.key)
  return out.map((k) => k.event)
}
