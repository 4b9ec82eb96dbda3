/**
 * The engine's queue API: what producers (`enqueue`), workers (`work`),
 * result waiters and operators (`cancel`, `queue`) call, each handed to
 * the queue side (`queue/side.ts`). The base of `Engine` (engine.ts),
 * which makes that side; a class of its own so that the engine's file
 * holds its runs and this one its queues, with one public surface.
 */
import type { QueueHub } from '../queue/hub'
import type { QueueSide } from '../queue/side'
import type { CancelOutcome } from '../queue/cancel'
import type { Worker } from '../queue/worker'
import type { Enqueued, EnqueueOptions, ResultOptions, WorkOptions } from '../queue/options'
import type { WorkflowDefinition } from '../workflow/model'
import type { CancelPolicy } from './run-types'

export abstract class EngineQueues {
  /** @internal The queue side, made on first use; queues need a store (a `QueueError` without one). */
  protected abstract queueSide(): QueueSide

  /**
   * Writes a run of `workflow` (a loaded one, or a name: a producer needs
   * no actions) as `queued`, for a worker of any process to run; every
   * option is checked first. `key` makes it idempotent: the same key
   * answers the run it made (`created: false`), whatever its state.
   *
   * @example
   * const { id } = await engine.enqueue('etl', { day: '2026-11-30' }, { queue: 'default', key: 'etl-2026-11-30', delay: '5s' })
   */
  async enqueue(workflow: string | WorkflowDefinition, input?: unknown, options?: EnqueueOptions): Promise<Enqueued> {
    return this.queueSide().enqueue(workflow, input, options)
  }

  /**
   * Enqueues one run per input, all with the same options (no `key`: a key
   * names one run), 5,000 runs per transaction; answers in the inputs'
   * order. Every input is checked before anything is written; a database
   * failure may leave earlier transactions' runs written. Concurrent
   * `enqueue` calls are group-committed too, so this is for a batch in hand.
   *
   * @example
   * const runs = await engine.enqueueMany('etl', days.map((day) => ({ day })), { queue: 'nightly' })
   */
  async enqueueMany(workflow: string | WorkflowDefinition, inputs: unknown[], options?: Omit<EnqueueOptions, 'key'>): Promise<Enqueued[]> {
    return this.queueSide().enqueueMany(workflow, inputs, options)
  }

  /**
   * Starts a worker: it claims runs of `queues` (default `['default']`) up
   * to `concurrency` (64) and runs them with this engine's workflows and
   * actions, under a lease (`'30s'`) renewed every third of it. See `Worker`.
   *
   * @example
   * const worker = engine.work({ queues: ['default'], concurrency: 64 })
   * worker.on('error', (e) => log.warn(e))
   * process.once('SIGTERM', () => void worker.stop({ drain: true }))
   */
  work(options?: WorkOptions): Worker {
    return this.queueSide().work(options)
  }

  /**
   * The output of run `id`, whichever process runs it: waits until it
   * ends; rejects like `run.result()` (`RunFailedError`,
   * `RunStoppedError`), with an `AbortedError` on `signal` or `timeout`.
   *
   * @example
   * const output = await engine.result(id, { timeout: '30s' })
   */
  async result<O = unknown>(id: string, options?: ResultOptions): Promise<O> {
    return this.queueSide().result<O>(id, options)
  }

  /**
   * Cancels run `id` whichever process holds it (default policy
   * `cancel_running`): a queued run ends `cancelled` before it starts; a
   * running one is cancelled by its worker.
   *
   * @example
   * await engine.cancel(id, { policy: 'allow_finish' })
   */
  async cancel(id: string, options?: { policy?: CancelPolicy }): Promise<CancelOutcome> {
    return this.queueSide().cancel(id, options)
  }

  /**
   * Sets how many runs of queue `name` run at once across all workers
   * (`concurrency: null` lifts the limit).
   *
   * @example
   * await engine.queue('llm', { concurrency: 10 })
   */
  async queue(name: string, options: { concurrency: number | null }): Promise<void> {
    return this.queueSide().limit(name, options)
  }

  /** @internal This process's wake-ups for the engine's store (`queue/hub.ts`): what `arcflow serve --queue` streams by. */
  queueHub(): QueueHub {
    return this.queueSide().hub()
  }
}
