/**
 * `engine.result`: the output of a run any process executes. A run live in
 * this engine answers from memory; any other is read from the store, and
 * read again when it is heard to end: at once in this process, by the
 * PostgreSQL notice from another (never a poll there, except the slow
 * safety poll), by a short poll across processes on SQLite. A failed or
 * stopped run rejects as the in-process `run.result()` does. A read that
 * fails (the database restarting) is tried again at the next wake-up.
 */
import { AbortedError, QueueError, StoreError } from '../errors'
import { RunFailedError, RunStoppedError } from '../engine/run-errors'
import type { Failure } from '../engine/failure'
import type { QueueHost } from './host'
import { checkResult, type ResultOptions } from './options'

/** How often a waiter on SQLite looks at the store (no notifications across processes). */
const SQLITE_POLL_MS = 100
/** PostgreSQL: the backstop of a missed notice. */
const SAFETY_POLL_MS = 5_000

export async function result<O>(host: QueueHost, id: string, options?: ResultOptions): Promise<O> {
  host.open()
  const timeoutMs = checkResult(id, options)
  const signals = [options?.signal, timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)].filter((s): s is AbortSignal => s !== undefined)
  const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals)
  if (signal?.aborted) throw new AbortedError('the wait for the run was aborted', { cause: signal.reason })
  const hub = host.hub()
  hub.subscribe()
  try {
    for (;;) {
      const live = host.live(id)
      if (live) return await abortable(live.result() as Promise<O>, signal)
      // listening before the read: an end between the read and the wait is not missed
      const woken = wake(host, id, signal)
      try {
        let stored
        try {
          stored = await host.store.runInfo(id, { signal })
        } catch (error) {
          // the database is restarting or unreachable: wait on (until the signal or timeout says stop)
          if (!(error instanceof StoreError)) throw error
          await woken.promise
          continue
        }
        if (!stored) throw new QueueError(`no run ${JSON.stringify(id)} in the store`)
        const { record } = stored
        switch (record.status) {
          case 'succeeded':
            return record.output as O
          case 'failed': {
            const failure = (record.error ?? { name: 'Error', message: 'the run failed' }) as Failure
            const failed = [...stored.tasks].reverse().find((t) => t.status === 'failed' || t.status === 'timed_out')
            throw new RunFailedError(id, failure, failed?.task, failed?.attempt)
          }
          case 'cancelled':
          case 'timed_out':
            throw new RunStoppedError(id, record.status)
        }
        await woken.promise
      } finally {
        woken.cancel()
      }
    }
  } finally {
    hub.unsubscribe()
  }
}

/** Resolves when run `id` may have ended (heard, or the poll's time), rejects on abort. */
function wake(host: QueueHost, id: string, signal: AbortSignal | undefined): { promise: Promise<void>; cancel(): void } {
  const hub = host.hub()
  let cancel = (): void => undefined
  const promise = new Promise<void>((resolve, reject) => {
    const onEnded = (ids: string[] | '*'): void => {
      if (ids === '*' || ids.includes(id)) done()
    }
    const onAbort = (): void => {
      cancel()
      reject(new AbortedError('the wait for the run was aborted', { cause: signal!.reason }))
    }
    const timer = setTimeout(() => done(), hub.notified ? SAFETY_POLL_MS : SQLITE_POLL_MS)
    cancel = (): void => {
      clearTimeout(timer)
      hub.off('ended', onEnded)
      hub.off('missed', done)
      signal?.removeEventListener('abort', onAbort)
    }
    function done(): void {
      cancel()
      resolve()
    }
    hub.on('ended', onEnded)
    hub.on('missed', done)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  // an abort while nobody awaits (during the read) must not be an unhandled rejection
  promise.catch(() => undefined)
  return { promise, cancel: () => cancel() }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError('the wait for the run was aborted', { cause: signal.reason }))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}
