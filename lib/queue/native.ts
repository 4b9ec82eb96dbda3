/**
 * The TypeScript twin of `crates/arcflow-node/src/queue.rs` and
 * `queue_listen.rs`: typed calls on the native queue (each one database
 * transaction on a libuv thread; errors rebuilt as arcflow classes) and a
 * listener of PostgreSQL notices.
 */
import { native } from '../binding'
import { EngineClosedError, fromNative, fromNativeData } from '../errors'
import type { NativeListener, NativeQueue, NativeStore } from '../native'
import { nativeRead } from '../store/read'

/**
 * A run as a claim hands it to a worker: a tuple, as the binding answers
 * it (one parse of the answer, no object per run): `CLAIM_*` name its slots.
 * The input is the run's input value; `inputIsText` when the stored input
 * is not JSON, and the input is then that text (the run cannot start).
 */
export type Claimed = [id: string, workflow: string, input: unknown, account: string | null, epoch: number, takenOver: boolean, inputIsText: boolean]

export const CLAIM_ID = 0
export const CLAIM_WORKFLOW = 1
export const CLAIM_INPUT = 2
export const CLAIM_ACCOUNT = 3
export const CLAIM_EPOCH = 4
export const CLAIM_TAKEN_OVER = 5
export const CLAIM_INPUT_IS_TEXT = 6

export type CancelAnswer =
  | { asked: 'cancelled' }
  | { asked: 'forwarded'; owner: string | null }
  | { asked: 'ended'; status: string }
  | { asked: 'unknown' }

/** A run for `enqueue`'s batch. */
export interface NewRun {
  id: string
  workflow: string
  input: string
  queue: string
  key: string | null
  priority: number
  runAt: number | null
  account: string | null
  at: number
}

/** A wake-up another process sent (PostgreSQL). */
export type Notice = { q: string[] } | { e: string[] | '*' } | { c: string[] } | { w: string[] | '*' } | { g: string[] | '*' } | { missed: true } | { error: Error }

/** The native queue of one store URL (its own connection), closed once. */
export class QueueClient {
  readonly #native: NativeQueue
  #closed = false

  constructor(url: string) {
    try {
      this.#native = new native.NativeQueue(url)
    } catch (error) {
      throw fromNative(error)
    }
  }

  #call<T>(start: (signal: AbortSignal | undefined) => Promise<string>, signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new EngineClosedError('the queue is closed'))
    return nativeRead<T>(signal, start)
  }

  enqueue(runs: NewRun[], signal?: AbortSignal): Promise<Array<{ id: string; created: boolean; status: string }>> {
    return this.#call((s) => this.#native.enqueue(JSON.stringify(runs), s), signal)
  }

  /** With `fence`, each claimed run is fenced in that store at its epoch before the answer comes back. */
  claim(worker: string, queues: string[], limit: number, leaseMs: number, fence?: NativeStore): Promise<Claimed[]> {
    return this.#call(() => this.#native.claim(worker, queues, limit, leaseMs, fence))
  }

  /** The runs `[id, epoch]` the worker still holds. */
  renew(worker: string, leaseMs: number): Promise<Array<[string, number]>> {
    return this.#call(() => this.#native.renew(worker, leaseMs))
  }

  release(worker: string, runs: Array<[string, number]>): Promise<null> {
    return this.#call(() => this.#native.release(worker, runs.map(([id]) => id), runs.map(([, epoch]) => epoch)))
  }

  requestCancel(id: string, policy: string, signal?: AbortSignal): Promise<CancelAnswer> {
    return this.#call((s) => this.#native.requestCancel(id, policy, s), signal)
  }

  /** The cancel requests `[id, policy]` of the runs the worker holds. */
  cancels(worker: string): Promise<Array<[string, string]>> {
    return this.#call(() => this.#native.cancels(worker))
  }

  setLimit(queue: string, concurrency: number | null, signal?: AbortSignal): Promise<null> {
    return this.#call((s) => this.#native.setLimit(queue, concurrency, s), signal)
  }

  depth(queues: string[], signal?: AbortSignal): Promise<number> {
    return this.#call((s) => this.#native.depth(queues, s), signal)
  }

  /** The database's clock, ms since the epoch. */
  nowMs(): Promise<number> {
    return this.#call(() => this.#native.nowMs())
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#native.close()
  }
}

/**
 * Listens for notices on the store `url` names; undefined for SQLite,
 * which has none. `onNotice` is never called after `stop`.
 */
export function listen(url: string, onNotice: (notice: Notice) => void): { stop(): void } | undefined {
  let stopped = false
  let listener: NativeListener | null
  try {
    listener = native.listenNotices(url, (text: string) => {
      if (stopped) return
      const notice = JSON.parse(text) as Notice | { error: Parameters<typeof fromNativeData>[0] }
      onNotice('error' in notice ? { error: fromNativeData(notice.error as Parameters<typeof fromNativeData>[0]) } : notice)
    })
  } catch (error) {
    throw fromNative(error)
  }
  if (!listener) return undefined
  const held = listener
  return {
    stop(): void {
      stopped = true
      held.stop()
    },
  }
}
