/**
 * Runs one task activation: its attempts with retries and timeouts, or,
 * for a with-items task, every item with at most `concurrency` in flight
 * (each item reads `ctx.withItem(item, index)`, never a copy).
 */
import type { WorkflowContext } from '../context'
import { Template, type JsonTemplate } from '../template'
import type { TaskDefinition } from '../workflow/model'
import { runAttempt, sleep, type Action, type ActionContext, type AttemptOutcome } from './attempt'
import type { NewEvent, RunEvent } from './events'
import { toFailure, type Failure } from './failure'
import { retryDelay } from './retry'

export type TaskOutcome =
  | { status: 'succeeded'; result: unknown; attempt: number }
  | { status: 'failed' | 'timed_out'; error: Failure; attempt: number }
  | { status: 'cancelled'; attempt: number }

export interface TaskEnv {
  runId: string
  ctx: WorkflowContext
  action: Action
  signal: AbortSignal
  /** True once the run stops starting new work (cancel with allow_finish). */
  stopping(): boolean
  emit(event: NewEvent): void
}

type ItemOutcome = Exclude<AttemptOutcome, { status: 'cancelled' }> | { status: 'cancelled' }

/** Attempts of one unit (the task, or one item) until success or retries run out. */
async function attempts(
  task: TaskDefinition,
  env: TaskEnv,
  ctx: WorkflowContext,
  index: number | undefined,
  item?: unknown,
): Promise<{ outcome: ItemOutcome; attempt: number }> {
  const retry = task.retry
  for (let attempt = 1; ; attempt++) {
    let input: unknown
    try {
      input = task.input === undefined ? undefined : ctx.renderJson(task.input)
    } catch (error) {
      return { outcome: { status: 'failed', error: toFailure(error) }, attempt }
    }
    const at = index === undefined ? {} : { index }
    if (index !== undefined && attempt === 1) env.emit({ type: 'item.started', task: task.name, attempt, index } as RunEvent)
    const actionCtx: Omit<ActionContext, 'signal'> = {
      runId: env.runId,
      task: task.name,
      attempt,
      log: (message, data) => env.emit({ type: 'task.log', task: task.name, attempt, ...at, message, data } as RunEvent),
    }
    if (index !== undefined) {
      actionCtx.item = item
      actionCtx.index = index
    }
    const outcome = await runAttempt(env.action, input, actionCtx, env.signal, task.timeoutMs)
    if (outcome.status === 'succeeded' || outcome.status === 'cancelled') return { outcome, attempt }
    if (retry && attempt <= retry.count && !env.signal.aborted && !env.stopping() && retryAllowed(retry.when, ctx, outcome)) {
      const delayMs = retryDelay(retry, attempt)
      env.emit({ type: 'task.retrying', task: task.name, attempt, ...at, error: outcome.error, delayMs } as RunEvent)
      if (!(await sleep(delayMs, env.signal))) return { outcome: { status: 'cancelled' }, attempt }
      continue
    }
    return { outcome, attempt }
  }
}

function retryAllowed(when: Template | undefined, ctx: WorkflowContext, outcome: { status: 'failed' | 'timed_out'; error: Failure }): boolean {
  if (!when) return true
  try {
    return ctx.withOutcome({ status: outcome.status, error: outcome.error }).evaluate(when)
  } catch {
    return false
  }
}

export async function runTask(task: TaskDefinition, env: TaskEnv): Promise<TaskOutcome> {
  env.emit({ type: 'task.started', task: task.name, attempt: 1 } as RunEvent)
  if (!task.with) {
    const { outcome, attempt } = await attempts(task, env, env.ctx, undefined)
    const result = outcome as TaskOutcome
    result.attempt = attempt // in place: a spread with extra keys is a slow path in V8
    return result
  }
  let items: unknown
  try {
    const source = task.with.items
    items = source instanceof Template ? env.ctx.render(source) : env.ctx.renderJson(source as JsonTemplate)
  } catch (error) {
    return { status: 'failed', error: toFailure(error), attempt: 1 }
  }
  if (!Array.isArray(items)) {
    const error = { name: 'TypeError', message: `with.items of task '${task.name}' must give a list, got ${items === null ? 'null' : typeof items}` }
    return { status: 'failed', error, attempt: 1 }
  }
  return runItems(task, env, items)
}

async function runItems(task: TaskDefinition, parent: TaskEnv, items: unknown[]): Promise<TaskOutcome> {
  // the task's own signal: an item that fails the task stops its siblings
  const controller = new AbortController()
  const stop = (): void => controller.abort(parent.signal.reason)
  parent.signal.addEventListener('abort', stop, { once: true })
  const env: TaskEnv = { ...parent, signal: controller.signal }
  const results: unknown[] = new Array(items.length)
  let failure: { status: 'failed' | 'timed_out'; error: Failure; attempt: number } | undefined
  let cancelled = false
  let next = 0
  const concurrency = task.with!.concurrency
  try {
    await new Promise<void>((resolve) => {
      let inFlight = 0
      const pump = (): void => {
        while (!failure && !cancelled && !controller.signal.aborted && !env.stopping() && inFlight < concurrency && next < items.length) {
          const index = next++
          inFlight++
          void attempts(task, env, parent.ctx.withItem(items[index], index), index, items[index]).then(({ outcome, attempt }) => {
            inFlight--
            if (outcome.status === 'succeeded') results[index] = outcome.result
            else if (outcome.status === 'cancelled') cancelled = true
            else if (task.continueOnError) results[index] = { error: outcome.error }
            else if (!failure) {
              failure = { status: outcome.status, error: outcome.error, attempt }
              controller.abort(new Error(`item ${index} of task '${task.name}' failed`))
            }
            if (outcome.status !== 'cancelled') {
              const status = outcome.status
              env.emit({ type: 'item.completed', task: task.name, attempt, index, status } as RunEvent)
            }
            if (inFlight === 0 && (failure || cancelled || controller.signal.aborted || env.stopping() || next >= items.length)) resolve()
            else pump()
          })
        }
        if (inFlight === 0) resolve()
      }
      pump()
    })
  } finally {
    parent.signal.removeEventListener('abort', stop)
  }
  if (failure) return failure
  if (cancelled || parent.signal.aborted || next < items.length) return { status: 'cancelled', attempt: 1 }
  return { status: 'succeeded', result: results, attempt: 1 }
}
