/**
 * One attempt of an action: its own AbortSignal (aborted by the task's or
 * run's signal, or by the attempt's deadline, at once, by timers and
 * signals), and a race so that a handler ignoring its signal cannot hold
 * the run: its late result is discarded.
 */
import { toFailure, type Failure } from './failure'

export interface ActionContext {
  /** Aborted on timeout or cancellation: pass it to fetch, timers, child processes. */
  signal: AbortSignal
  runId: string
  task: string
  /** 1 for the first attempt. */
  attempt: number
  /** With-items only. */
  item?: unknown
  index?: number
  /** Emits a `task.log` event. */
  log(message: string, data?: unknown): void
}

/** An action: an async function of the task's rendered input. */
export type Action = (input: any, ctx: ActionContext) => unknown

export type AttemptOutcome =
  | { status: 'succeeded'; result: unknown }
  | { status: 'failed'; error: Failure }
  | { status: 'timed_out'; error: Failure }
  | { status: 'cancelled' }

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`attempt timed out after ${ms} ms`)
    this.name = 'TimeoutError'
  }
}

const ABORTED = Symbol('aborted')

/** One promise per signal that settles when it aborts, shared by every attempt under it. */
const abortPromises = new WeakMap<AbortSignal, Promise<typeof ABORTED>>()
function whenAborted(signal: AbortSignal): Promise<typeof ABORTED> {
  let promise = abortPromises.get(signal)
  if (!promise) {
    promise = new Promise((resolve) => signal.addEventListener('abort', () => resolve(ABORTED), { once: true }))
    abortPromises.set(signal, promise)
  }
  return promise
}

export async function runAttempt(
  action: Action,
  input: unknown,
  ctx: Omit<ActionContext, 'signal'>,
  parent: AbortSignal,
  timeoutMs: number | undefined,
): Promise<AttemptOutcome> {
  if (parent.aborted) return { status: 'cancelled' }
  // Without a deadline the attempt can use its parent's signal: an
  // AbortController per attempt is a measurable share of a task's cost.
  let signal = parent
  let timer: ReturnType<typeof setTimeout> | undefined
  let abortFromParent: (() => void) | undefined
  if (timeoutMs !== undefined) {
    const controller = new AbortController()
    abortFromParent = (): void => controller.abort(parent.reason)
    parent.addEventListener('abort', abortFromParent, { once: true })
    timer = setTimeout(() => controller.abort(new AttemptTimeout(timeoutMs)), timeoutMs)
    signal = controller.signal
  }
  try {
    const actionCtx = ctx as ActionContext
    actionCtx.signal = signal
    const work = (async () => action(input, actionCtx))().then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error }),
    )
    const settled = await Promise.race([work, whenAborted(signal)])
    if (settled === ABORTED || signal.aborted) {
      const reason: unknown = signal.reason
      if (reason instanceof AttemptTimeout) return { status: 'timed_out', error: toFailure(reason) }
      return { status: 'cancelled' }
    }
    return settled.ok ? { status: 'succeeded', result: settled.result } : { status: 'failed', error: toFailure(settled.error) }
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    if (abortFromParent) parent.removeEventListener('abort', abortFromParent)
  }
}

/** Sleeps, or returns early (false) when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', done)
      resolve(true)
    }, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
