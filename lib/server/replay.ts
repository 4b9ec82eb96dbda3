/**
 * A run's events rebuilt from the store (`engine.getRun`), for runs not
 * live in this process (after a restart, or run by a worker). The stream
 * equals the live one in types, order and fields:
 * - from the executions: task and item starts and ends, retries, `task.items`;
 * - journaled as the live events were, with their time
 *   (`engine/journal-events.ts`): `task.waiting`, `task.cached`,
 *   `task.child`, `signal.received` (a signal sent to the run's process, or
 *   a stored one once a live run took it: `signal.delivered`), logs,
 *   resumes;
 * - from the run's end: `join.blocked` and the `run.failed` of a join that
 *   can never fire.
 * Order: by time, and within one millisecond a task's start before what
 * follows it (its waiting, logs, end), an end before what started after it,
 * tasks started in one step in the workflow's order (`workflowTasks`).
 * A stream read while the run goes on ends before the start of a parked
 * task (a wait, a sleep) or a sub-workflow task whose `task.waiting` or
 * `task.child` is not committed yet, and before such an event whose task's
 * row is not: the rows of one turn can land in two commits, and the events
 * after would be numbered otherwise once the other lands.
 * Limits: the times of events rebuilt from executions are the store's
 * stamps of those executions, which can differ by a few milliseconds from
 * the live event's; `billing.insufficient_balance` and `run.lease_lost`
 * (a worker's, not the run's) are not rebuilt.
 */
import type { RunEvent, TaskEventBase } from '../engine/events'
import type { RunInfo } from '../engine/engine-types'
import { fromNativeData } from '../errors'
import { toFailure } from '../engine/failure'
import type { TaskRecord } from '../store/store'
import type { TaskKind } from '../workflow/model'

/** The event kinds journaled as the live events were (`engine/journal-events.ts`). */
const JOURNALED = new Set(['task.waiting', 'task.cached', 'task.child'])
/** A signal nothing took at once: after the other events of its millisecond, before the run's end. */
const SIGNAL_KEY = Number.MAX_SAFE_INTEGER / 2

/**
 * A run's error as its live `run.failed` says it: the store keeps a run-level
 * error of the core (a join that can never fire) as the core's data, the
 * event as a failure (name, message, code, details).
 */
function runFailure(error: unknown): unknown {
  const e = error as { code?: unknown; payload?: unknown } | undefined
  if (e === null || typeof e !== 'object' || typeof e.code !== 'string' || e.payload === null || typeof e.payload !== 'object') return error
  const failure = toFailure(fromNativeData(e as Parameters<typeof fromNativeData>[0]))
  delete failure.stack
  return failure
}

/** The fields of `join.blocked` from a run's `JoinError` (its details), if that is how it failed. */
function joinBlocked(error: unknown): { join: string; waitingFor: string[]; arrived: number; needed: number } | undefined {
  const e = error as { code?: string; details?: { join?: unknown; waitingFor?: unknown; arrived?: unknown; needed?: unknown } } | undefined
  const d = e?.code === 'ARCFLOW_JOIN' ? e.details : undefined
  if (!d || typeof d.join !== 'string' || !Array.isArray(d.waitingFor) || typeof d.arrived !== 'number' || typeof d.needed !== 'number') return undefined
  return { join: d.join, waitingFor: d.waitingFor as string[], arrived: d.arrived, needed: d.needed }
}

interface Keyed {
  /** Where it sorts: its time, then `key` within the millisecond. */
  time: number
  key: number
  event: RunEvent
  /** Follows its task's start (`task.waiting`, ...): moves with it. */
  anchored?: boolean
  /** Such an event of a running run whose task's row the store does not hold yet. */
  unanchored?: boolean
}

export function replayEvents(info: RunInfo, workflowTasks?: ReadonlyArray<{ readonly name: string; readonly kind: TaskKind }>): RunEvent[] {
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
  const ownerOf = (task: string, attempt: number | undefined, item: number | undefined): number => tasks.findIndex((x) => x.task === task && x.attempt === attempt && x.item === item)
  // the waits that took each signal, by name (their `task.waiting` rows say which signal)
  const waitsFor = new Map<string, string[]>()
  for (const e of info.events) {
    if (e.kind === 'task.waiting' && e.task !== undefined) {
      const name = (e.data as { signal?: string } | undefined)?.signal
      if (name !== undefined) waitsFor.set(name, [...(waitsFor.get(name) ?? []), e.task])
    }
  }
  for (const e of info.events) {
    if (JOURNALED.has(e.kind) && e.task !== undefined) {
      // journaled as the live event was (`engine/journal-events.ts`): its fields, its time; after its task's start
      const event = { type: e.kind, runId, time: e.at, task: e.task, attempt: e.attempt ?? 1, ...(e.data as object) } as RunEvent & { index?: number }
      if (e.item !== undefined) event.index = e.item
      // sorted right after its task's (or item's) start, which it follows in the same turn
      const owner = ownerOf(e.task, e.attempt, e.item)
      const x = tasks[owner]
      // its task's row not committed yet (it comes in a later write): the stream stops here for now
      if (x === undefined) out.push({ time: e.at, key: SIGNAL_KEY, event, unanchored: info.endedAt === undefined })
      else out.push({ time: x.startedAt ?? e.at, key: x.item === undefined ? activationKey(x, owner) + 0.1 : activationKey(x, owner) + 0.5 + owner * 1e-6 + 1e-7, event, anchored: true })
    } else if (e.kind === 'signal.received' || e.kind === 'signal.delivered') {
      // a signal another process stored (`signal.stored`) is an event of the run once a live run takes it
      // (`signal.delivered`, journaled then); one delivered at a resume is not an event (`engine/run.ts`)
      const payload = e.kind === 'signal.delivered' ? (e.data as { payload?: unknown } | undefined)?.payload ?? null : e.data ?? null
      const name = e.kind === 'signal.delivered' ? (e.data as { name: string }).name : e.message
      // a signal a parked wait took at once ends that wait in the same turn: just before that end; else after what came in its millisecond
      const took = tasks.findIndex((x) => x.endedAt === e.at && x.status === 'succeeded' && (waitsFor.get(name) ?? []).includes(x.task))
      out.push({ time: e.at, key: took >= 0 ? 2 * took + 0.9 : SIGNAL_KEY, event: { type: 'signal.received', runId, name, payload, time: e.at } })
    } else if (e.kind === 'task.log' && e.task !== undefined) {
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
        const error = runFailure(info.error)
        const event: RunEvent = { type: 'run.failed', runId, error: error as never, time: tEnd }
        const blocked = joinBlocked(error)
        if (blocked) {
          // the run failed because a join could never fire: `join.blocked` came right before, naming the join
          out.push({ time: tEnd, key: endKey - 1, event: { type: 'join.blocked', runId, ...blocked, time: tEnd } })
          event.task = blocked.join
        } else if (failed) event.task = failed.task
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
  if (workflowTasks) startsInOrder(out, workflowTasks.map((t) => t.name))
  const cut = out.findIndex((k) => k.unanchored === true || (workflowTasks !== undefined && k.event.type === 'task.started' && awaited(info, tasks, workflowTasks, k.event as TaskEventBase)))
  if (cut >= 0) out.length = cut
  return out.map((k) => k.event)
}

/** The event a running task of this kind emits right after its start, which the journal keeps. */
const FOLLOWS_START: Partial<Record<TaskKind, string>> = { wait: 'task.waiting', sleep: 'task.waiting', workflow: 'task.child' }

/** A start whose activation is running and whose following event (`FOLLOWS_START`) the store does not hold yet. */
function awaited(info: RunInfo, tasks: readonly TaskRecord[], workflowTasks: ReadonlyArray<{ readonly name: string; readonly kind: TaskKind }>, start: TaskEventBase): boolean {
  const kind = FOLLOWS_START[workflowTasks.find((t) => t.name === start.task)?.kind ?? 'action']
  if (kind === undefined) return false
  const running = tasks.some((x) => x.task === start.task && x.item === undefined && x.status === 'running')
  return running && !info.events.some((e) => e.kind === kind && e.task === start.task && e.item === undefined)
}

/**
 * Tasks started in one step (a run's first tasks, a fan-out) start in the
 * workflow's order; the store's rows are in the order they ended. Each run
 * of consecutive `task.started` events of one millisecond (each with the
 * events that follow its start) is put in the workflow's order.
 */
function startsInOrder(out: Keyed[], taskOrder: readonly string[]): void {
  const rank = (k: Keyed): number => taskOrder.indexOf((k.event as { task: string }).task)
  for (let i = 0; i < out.length; ) {
    if (out[i]!.event.type !== 'task.started') {
      i++
      continue
    }
    const units: Keyed[][] = []
    let j = i
    while (j < out.length && out[j]!.event.type === 'task.started' && out[j]!.time === out[i]!.time) {
      const unit = [out[j++]!]
      while (j < out.length && out[j]!.anchored && (out[j]!.event as { task?: string }).task === (unit[0]!.event as { task: string }).task) unit.push(out[j++]!)
      units.push(unit)
    }
    if (units.length > 1) out.splice(i, j - i, ...units.sort((a, b) => rank(a[0]!) - rank(b[0]!)).flat())
    i = j
  }
}
