/**
 * The options of `enqueue`, `work`, `result`, `cancel` and `queue`, each
 * checked before anything is written: a bad option is an `InputError`
 * listing every problem.
 */
import { InputError } from '../errors'
import { parseDuration, DURATION_HINT } from '../workflow/duration'
import { wellFormed } from '../values'
import { runIdProblem } from '../engine/start-options'
import type { CancelPolicy } from '../engine/run-types'

/** `engine.enqueue` options. */
export interface EnqueueOptions {
  /** The queue's name (default `'default'`). */
  queue?: string
  /** Idempotency key: enqueuing again with it returns the run it made, whatever its state. */
  key?: string
  /** Higher is claimed first (default 0); an integer. */
  priority?: number
  /** Claimable only after this long: milliseconds or `'5s'` (default: at once). */
  delay?: number | string
  /** Claimable only from this time (a `Date` or ms since the epoch); not with `delay`. */
  runAt?: Date | number
  /** The account that pays for the run (metering). */
  account?: string
}

/** What `enqueue` answers. */
export interface Enqueued {
  id: string
  /** False when `key` named a run enqueued before: `id` is that run's. */
  created: boolean
  /** The run's status now (`queued` for a new run). */
  status: string
}

/** `engine.work` options. */
export interface WorkOptions {
  /** The queues to take runs from (default `['default']`). */
  queues?: string[]
  /** Runs held at once by this worker (default 64). */
  concurrency?: number
  /**
   * Runs claimed ahead of free capacity, waiting in the worker's local
   * buffer (default 0): a claim then fetches up to `concurrency + prefetch`
   * runs, so that short runs do not wait for a claim's round trip each
   * batch. Prefetched runs are claimed (leased, `running` in the store, they
   * count against per-queue limits) before they start: keep it small for long
   * runs, which another idle worker could have taken.
   */
  prefetch?: number
  /** How long a claim holds a run without renewal (default `'30s'`); renewed every third of it. */
  lease?: number | string
  /** Milliseconds between cross-process polls on SQLite, which has no notifications (default 250). */
  pollInterval?: number
  /**
   * Mean milliseconds between safety polls (default 3000, jittered ±50%): a
   * backstop for lost notices only, never how a normal run is found.
   */
  safetyPollInterval?: number
}

/** `engine.result` options. */
export interface ResultOptions {
  signal?: AbortSignal
  /** Give up after this long (an `AbortedError` whose cause is a `TimeoutError`). */
  timeout?: number | string
}

export interface CheckedEnqueue {
  queue: string
  key: string | undefined
  priority: number
  /** Ms since the epoch, or undefined for "now" by the database's clock. */
  runAt: number | undefined
  /** Ms from now by the database's clock. */
  delayMs: number
  account: string | undefined
}

export interface CheckedWork {
  queues: string[]
  concurrency: number
  prefetch: number
  leaseMs: number
  pollMs: number
  safetyPollMs: number
}

const describe = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : value === null || typeof value !== 'object' ? String(value) : Array.isArray(value) ? 'a list' : 'an object'

/** A queue name: non-empty valid Unicode, at most 200 characters. */
export function queueNameProblem(name: unknown, where: string): string | undefined {
  if (typeof name !== 'string' || name === '' || name.length > 200 || !wellFormed(name)) return `${where}: must be a non-empty string of at most 200 characters, got ${describe(name)}`
  return undefined
}

function objectProblem(options: unknown): string | undefined {
  if (options === undefined) return undefined
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return `options: must be an object, got ${describe(options)}`
  return undefined
}

function fail(what: string, problems: string[]): never {
  throw new InputError(`bad ${what}:\n${problems.map((p) => `  ${p}`).join('\n')}`, problems)
}

/** Checks `enqueue`'s workflow name and options. */
export function checkEnqueue(workflow: string, options: EnqueueOptions | undefined): CheckedEnqueue {
  const shape = objectProblem(options)
  if (shape) fail('enqueue options', [shape])
  const o = options ?? {}
  const problems: string[] = []
  if (typeof workflow !== 'string' || workflow === '' || !wellFormed(workflow)) problems.push(`workflow: must be a workflow's name (a non-empty string) or a loaded workflow, got ${describe(workflow)}`)
  const queueProblem = queueNameProblem(o.queue ?? 'default', 'options.queue')
  if (queueProblem) problems.push(queueProblem)
  if (o.key !== undefined) {
    const keyProblem = runIdProblem(o.key, 'options.key')
    if (keyProblem) problems.push(keyProblem)
  }
  const priority = o.priority ?? 0
  if (!Number.isSafeInteger(priority) || Math.abs(priority) > 2 ** 31 - 1) problems.push(`options.priority: must be an integer from -(2^31-1) to 2^31-1, got ${describe(priority)}`)
  let delayMs = 0
  if (o.delay !== undefined) {
    const d = parseDuration(o.delay)
    if (typeof d === 'number') delayMs = d
    else problems.push(`options.delay: ${d.problem} (${DURATION_HINT})`)
  }
  let runAt: number | undefined
  if (o.runAt !== undefined) {
    const at = o.runAt instanceof Date ? o.runAt.getTime() : o.runAt
    if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) problems.push(`options.runAt: must be a Date or ms since the epoch, got ${describe(o.runAt)}`)
    else runAt = at
    if (o.delay !== undefined) problems.push('options.runAt: give either delay or runAt, not both')
  }
  if (o.account !== undefined && (typeof o.account !== 'string' || o.account === '' || !wellFormed(o.account))) problems.push(`options.account: must be a non-empty string, got ${describe(o.account)}`)
  if (problems.length > 0) fail('enqueue arguments', problems)
  return { queue: o.queue ?? 'default', key: o.key, priority, runAt, delayMs, account: o.account }
}

/** Checks `work`'s options. */
export function checkWork(options: WorkOptions | undefined): CheckedWork {
  const shape = objectProblem(options)
  if (shape) fail('work options', [shape])
  const o = options ?? {}
  const problems: string[] = []
  const queues = o.queues ?? ['default']
  if (!Array.isArray(queues) || queues.length === 0) problems.push(`options.queues: must be a non-empty list of queue names, got ${describe(queues)}`)
  else queues.forEach((q, i) => {
    const p = queueNameProblem(q, `options.queues[${i}]`)
    if (p) problems.push(p)
  })
  const concurrency = o.concurrency ?? 64
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100_000) problems.push(`options.concurrency: must be an integer from 1 to 100000, got ${describe(concurrency)}`)
  const prefetch = o.prefetch ?? 0
  if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > 100_000) problems.push(`options.prefetch: must be an integer from 0 to 100000, got ${describe(o.prefetch)}`)
  let leaseMs = 30_000
  if (o.lease !== undefined) {
    const d = parseDuration(o.lease)
    // the renewal runs every third: under 300 ms it would be a busy loop
    if (typeof d !== 'number') problems.push(`options.lease: ${d.problem} (${DURATION_HINT})`)
    else if (d < 300 || d > 2 ** 31 - 1) problems.push(`options.lease: must be from 300 ms to 2^31-1 ms, got ${describe(o.lease)}`)
    else leaseMs = d
  }
  const pollMs = o.pollInterval ?? 250
  if (!Number.isInteger(pollMs) || pollMs < 10 || pollMs > 60_000) problems.push(`options.pollInterval: must be an integer from 10 to 60000 ms, got ${describe(o.pollInterval)}`)
  const safetyPollMs = o.safetyPollInterval ?? 3_000
  if (!Number.isInteger(safetyPollMs) || safetyPollMs < 100 || safetyPollMs > 2 ** 30) problems.push(`options.safetyPollInterval: must be an integer from 100 to 2^30 ms, got ${describe(o.safetyPollInterval)}`)
  if (problems.length > 0) fail('work options', problems)
  return { queues: [...new Set(queues)], concurrency, prefetch, leaseMs, pollMs, safetyPollMs }
}

/** Checks `result`'s run id and options; answers the timeout in ms (undefined: none). */
export function checkResult(id: unknown, options: ResultOptions | undefined): number | undefined {
  const problems: string[] = []
  const idProblem = runIdProblem(id, 'id')
  if (idProblem) problems.push(idProblem)
  const shape = objectProblem(options)
  if (shape) fail('result arguments', [...problems, shape])
  const o = options ?? {}
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) problems.push(`options.signal: must be an AbortSignal, got ${describe(o.signal)}`)
  let timeout: number | undefined
  if (o.timeout !== undefined) {
    const d = parseDuration(o.timeout)
    if (typeof d === 'number') timeout = d
    else problems.push(`options.timeout: ${d.problem} (${DURATION_HINT})`)
  }
  if (problems.length > 0) fail('result arguments', problems)
  return timeout
}

/** Checks `cancel`'s run id and policy. */
export function checkCancel(id: unknown, options: { policy?: CancelPolicy } | undefined): CancelPolicy {
  const problems: string[] = []
  const idProblem = runIdProblem(id, 'runId')
  if (idProblem) problems.push(idProblem)
  const shape = objectProblem(options)
  if (shape) problems.push(shape)
  const policy = options?.policy ?? 'cancel_running'
  if (policy !== 'cancel_running' && policy !== 'allow_finish') problems.push(`options.policy: must be 'cancel_running' or 'allow_finish', got ${describe(policy)}`)
  if (problems.length > 0) fail('cancel arguments', problems)
  return policy
}

/** Checks `queue`'s name and limit. */
export function checkQueueLimit(name: unknown, options: { concurrency?: number | null } | undefined): number | null {
  const problems: string[] = []
  const nameProblem = queueNameProblem(name, 'name')
  if (nameProblem) problems.push(nameProblem)
  const shape = objectProblem(options)
  if (shape) problems.push(shape)
  const c = options?.concurrency ?? null
  if (c !== null && (!Number.isInteger(c) || c < 1 || c > 2 ** 31 - 1)) problems.push(`options.concurrency: must be a positive integer (or null for no limit), got ${describe(c)}`)
  if (problems.length > 0) fail('queue arguments', problems)
  return c
}
