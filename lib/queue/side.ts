/**
 * An engine's queue side: what `engine.enqueue`, `work`, `result`,
 * `cancel` and `queue` delegate to (the engine stays thin), with the
 * process's hub for the store (opened on first use) and the engine's
 * workers, stopped (their runs released) when the engine closes.
 */
import type { CancelPolicy } from '../engine/run-types'
import type { WorkflowDefinition } from '../workflow/model'
import { cancel, type CancelOutcome } from './cancel'
import { enqueue, enqueueMany } from './enqueue'
import type { QueueHost } from './host'
import { acquireHub, releaseHub, type QueueHub } from './hub'
import { setQueueLimit } from './limit'
import { checkWork, type Enqueued, type EnqueueOptions, type ResultOptions, type WorkOptions } from './options'
import { result } from './result'
import { Worker } from './worker'

/** What the engine gives its queue side (see `QueueHost`, less the hub, which the side owns). */
export type EngineSide = Omit<QueueHost, 'hub'> & { storeKey: string; storeUrl: string }

export class QueueSide {
  readonly #host: QueueHost
  #hub: QueueHub | undefined
  readonly #workers = new Set<Worker>()

  constructor(engine: EngineSide) {
    const { storeKey, storeUrl, ...rest } = engine
    this.#host = { ...rest, hub: () => (this.#hub ??= acquireHub(storeKey, storeUrl)) }
  }

  /** A run of this engine ended: this process's waiters look at the store again. */
  ended(runId: string): void {
    // no array per run when nobody in this process waits for an end (a worker's own runs)
    if (this.#hub !== undefined && this.#hub.listenerCount('ended') > 0) this.#hub.emit('ended', [runId])
  }

  /** This process's hub for the store (the server in front of workers listens on it). */
  hub(): QueueHub {
    return this.#host.hub()
  }

  enqueue(workflow: string | WorkflowDefinition, input: unknown, options: EnqueueOptions | undefined): Promise<Enqueued> {
    return enqueue(this.#host, workflow, input, options)
  }

  enqueueMany(workflow: string | WorkflowDefinition, inputs: unknown[], options: Omit<EnqueueOptions, 'key'> | undefined): Promise<Enqueued[]> {
    return enqueueMany(this.#host, workflow, inputs, options)
  }

  work(options: WorkOptions | undefined): Worker {
    this.#host.open()
    const worker = new Worker(this.#host, checkWork(options))
    this.#workers.add(worker)
    worker.once('stopped', () => this.#workers.delete(worker))
    return worker
  }

  result<O>(id: string, options: ResultOptions | undefined): Promise<O> {
    return result<O>(this.#host, id, options)
  }

  cancel(id: string, options: { policy?: CancelPolicy } | undefined): Promise<CancelOutcome> {
    return cancel(this.#host, id, options)
  }

  limit(name: string, options: { concurrency: number | null }): Promise<void> {
    return setQueueLimit(this.#host, name, options)
  }

  /** The engine closes: its workers give their runs back for others to take over. */
  async close(): Promise<void> {
    await Promise.all([...this.#workers].map((worker) => worker.stop({ drain: false })))
    if (this.#hub) releaseHub(this.#hub)
    this.#hub = undefined
  }
}
