/**
 * The engine's reads of runs: a live run is answered from memory (its own
 * events: never a database read, never a wait), any other from the store
 * once this process's queued writes commit, on a libuv thread; and the
 * runs a dead process left running. Counts the reads memory answered
 * (hits) and the store did (misses), for `engine.stats().cache`.
 */
import { AbortedError } from '../errors'
import type { DurableStore, RunRecord } from '../store/store'
import { checkRunFilter, type ReadOptions, type RunFilter } from '../store/read'
import type { RunInfo } from './engine-types'
import { liveRunInfo } from './history'
import type { Launcher } from './launcher'
import type { RunStatus } from './statuses'

export class RunReads {
  readonly counts = { hits: 0, misses: 0 }
  readonly #launcher: Launcher
  readonly #store: DurableStore | undefined

  constructor(launcher: Launcher, store: DurableStore | undefined) {
    this.#launcher = launcher
    this.#store = store
  }

  /** `engine.getRun`: undefined for an unknown run. */
  runInfo(id: string, options: ReadOptions): Promise<RunInfo | undefined> {
    if (options.signal?.aborted) return Promise.reject(new AbortedError('the read was aborted', { cause: options.signal.reason }))
    const live = this.#launcher.runs.get(id)
    if (live) {
      this.counts.hits++
      // taken now, not in a later microtask: the answer is the run as it is at the call
      return Promise.resolve(liveRunInfo(live))
    }
    if (!this.#store) return Promise.resolve(undefined)
    this.counts.misses++
    return this.#store.runInfo(id, options).then((stored) => (stored ? { ...stored.record, live: false, tasks: stored.tasks, events: stored.events } : undefined))
  }

  /** `engine.runs`: the filter checked first (an `InputError`); nothing without a store. */
  runs(filter: RunFilter, options: ReadOptions): Promise<RunRecord[]> {
    checkRunFilter(filter)
    return this.#store ? this.#store.runs(filter, options) : Promise.resolve([])
  }

  /** `engine.interruptedRuns`: `running` or `waiting` in the store, live in no engine of this process. */
  async interrupted(options: ReadOptions): Promise<RunRecord[]> {
    const store = this.#store
    if (!store) return []
    // a waiting run (everything parked when its process stopped) is interrupted as much
    const [active, parked] = await Promise.all(['running', 'waiting'].map((status) => store.runs({ status: status as RunStatus, limit: 1_000_000 }, options)))
    const running = [...active!, ...parked!]
    // live now, when the answer arrives: a run started meanwhile is not interrupted
    // a child is resumed by its parent (which finds it by its id), not on its own
    return running.filter((run) => !this.#launcher.holds(run.id) && run.parentId === undefined)
  }
}
