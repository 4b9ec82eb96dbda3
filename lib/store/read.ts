/**
 * Reads that go to the database, as the binding answers them: a promise
 * settled on a libuv thread (it waits there for this process's queued
 * writes, then reads), with an optional `AbortSignal` as in napi-rs/node-rs.
 * The binding answers `{"ok":VALUE}` or `{"error":{code,payload}}`: errors
 * travel as data so that they keep their `ARCFLOW_*` code.
 */
import { AbortedError, fromNative, fromNativeData, InputError } from '../errors'
import { RUN_STATUSES, type RunStatus } from '../engine/statuses'

/** The options of every read that may go to the database. */
export interface ReadOptions {
  /** Gives the read up: it rejects with an `AbortedError` (name `AbortError`), and nothing of it stays behind. */
  signal?: AbortSignal | undefined
}

/** Which runs `engine.runs` lists (every run by default). */
export interface RunFilter {
  /** Only runs with this status. */
  status?: RunStatus | undefined
  /** Only runs of this workflow (by name). */
  workflow?: string | undefined
  /** At most this many, newest first; default 100. */
  limit?: number | undefined
}

/**
 * Refuses a filter that could only list nothing by mistake (a misspelt
 * status: `'faild'`) with an `InputError` naming the valid values.
 *
 * @example
 * checkRunFilter({ status: 'failed' }) // ok; { status: 'faild' } throws InputError
 */
export function checkRunFilter(filter: RunFilter): void {
  if (filter === null || typeof filter !== 'object') throw new InputError(`the filter must be an object, got ${filter === null ? 'null' : typeof filter}`)
  const problems: string[] = []
  const { status, workflow, limit } = filter
  if (status !== undefined && !(RUN_STATUSES as readonly unknown[]).includes(status)) {
    problems.push(`status: must be one of ${RUN_STATUSES.join(', ')}, got ${JSON.stringify(status)}`)
  }
  if (workflow !== undefined && typeof workflow !== 'string') problems.push(`workflow: must be a string, got ${typeof workflow}`)
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) problems.push(`limit: must be a whole number from 0, got ${String(limit)}`)
  if (problems.length > 0) throw new InputError(`bad run filter: ${problems.join('; ')}`, problems)
}

function aborted(signal: AbortSignal): AbortedError {
  return new AbortedError('the read was aborted', { cause: signal.reason })
}

/**
 * Starts a native read with `signal` and resolves with its value (parsed
 * JSON, `null` for nothing). An abort rejects at once, whether the native
 * work has started or not: a started read stops waiting and its answer is
 * dropped; one not started yet is cancelled.
 *
 * @example
 * const runs = await nativeRead(signal, (s) => store.native.runs(null, null, 10, s))
 */
export function nativeRead<T>(signal: AbortSignal | undefined, start: (signal: AbortSignal | undefined) => Promise<string>): Promise<T> {
  if (signal?.aborted) return Promise.reject(aborted(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted(signal!))
    signal?.addEventListener('abort', onAbort, { once: true })
    const settled = (): void => signal?.removeEventListener('abort', onAbort)
    let pending: Promise<string>
    try {
      pending = start(signal)
    } catch (error) {
      settled()
      reject(fromNative(error))
      return
    }
    pending.then(
      (text) => {
        settled()
        const answer = JSON.parse(text) as { ok?: T; error?: Parameters<typeof fromNativeData>[0] }
        if (answer.error) reject(fromNativeData(answer.error))
        else resolve(answer.ok as T)
      },
      (error: unknown) => {
        settled()
        // napi rejects a cancelled work with an `AbortError` of its own
        reject(signal?.aborted ? aborted(signal) : fromNative(error))
      },
    )
  })
}
