/**
 * Reads that go to the database, as the binding answers them: a promise
 * settled on a libuv thread (it waits there for this process's queued
 * writes, then reads), with an optional `AbortSignal` as in napi-rs/node-rs.
 * The binding answers `{"ok":VALUE}` or `{"error":{code,payload}}`: errors
 * travel as data so that they keep their `ARCFLOW_*` code.
 */
import { AbortedError, fromNative, fromNativeData } from '../errors'

/** The options of every read that may go to the database. */
export interface ReadOptions {
  /** Gives the read up: it rejects with an `AbortedError` (name `AbortError`), and nothing of it stays behind. */
  signal?: AbortSignal | undefined
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
