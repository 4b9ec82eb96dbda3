/**
 * A signal to a durable run that no process of its store holds now: kept
 * in the store (per run and name, in order) and delivered when the run
 * resumes or a worker takes it; a worker of this process hears of it once
 * it commits, other processes through the notice of its commit.
 */
import { fromNative, SignalError } from '../errors'
import { native } from '../binding'
import { encode } from '../values'
import { openHub } from '../queue/hub'
import type { DurableStore } from '../store/store'

/** Resolves once written (with `sync`, once committed); rejects with a `SignalError` for an unknown or ended run. */
export function signalStoredRun(store: DurableStore, storeKey: string | undefined, sync: boolean, runId: string, name: string, payload: unknown): Promise<void> {
  if (typeof name !== 'string' || name === '') return Promise.reject(new SignalError(`a signal's name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`))
  try {
    const seq = native.storeSignal(store.native, runId, name, encode(payload, `payload of signal '${name}'`))
    const committed = store.committed(Math.abs(seq))
    if (storeKey !== undefined) void committed.then(() => openHub(storeKey)?.emit('signalled', [runId]), () => undefined)
    return sync ? committed : Promise.resolve()
  } catch (error) {
    return Promise.reject(fromNative(error))
  }
}
