/**
 * What wakes a worker (`worker.ts`) besides its own runs' ends: an enqueue
 * in this process or another process's (a PostgreSQL notice, `hub.ts`),
 * cancels and signals asked for its runs from elsewhere, a lost listening
 * connection (everything checked again); on SQLite, which has no notices,
 * a short poll (`pollInterval`); and a jittered safety poll of a few
 * seconds, a backstop only.
 */
import type { Run } from '../engine/run'
import type { QueueHub } from './hub'

/** The worker, as its wake-ups see it. */
export interface Woken {
  /** The worker's id: the owner of the runs it holds. */
  readonly id: string
  /** Claims up to the free capacity. */
  claim(): void
  /** The runs held here, by id (`run`: undefined until started). */
  held(): ReadonlyMap<string, { run: Run | undefined }>
  /** Takes signals stored elsewhere into these held runs: named, all (`'*'`) or the waiting ones. */
  takeSignals(which: string[] | '*' | 'waiting'): void
  /** A safety poll ran. */
  polled(): void
  error(error: Error): void
}

export class Wakeups {
  readonly #hub: QueueHub
  readonly #queues: readonly string[]
  readonly #safetyPollMs: number
  readonly #worker: Woken
  readonly #timers: Array<ReturnType<typeof setInterval>> = []
  #safety: ReturnType<typeof setTimeout> | undefined
  #stopped = false
  #forwarding = false

  readonly #onEnqueued = (queues: string[]): void => {
    if (queues.some((q) => this.#queues.includes(q))) this.#worker.claim()
  }
  readonly #onCancel = (ids: string[]): void => {
    if (ids.some((id) => this.#worker.held().has(id))) this.forwardCancels()
  }
  readonly #onSignalled = (ids: string[] | '*'): void => this.#worker.takeSignals(ids)
  readonly #onMissed = (): void => {
    this.#worker.claim()
    this.forwardCancels()
    this.#worker.takeSignals('*')
  }

  constructor(hub: QueueHub, options: { queues: readonly string[]; pollMs: number; safetyPollMs: number }, worker: Woken) {
    this.#hub = hub
    this.#queues = options.queues
    this.#safetyPollMs = options.safetyPollMs
    this.#worker = worker
    hub.on('enqueued', this.#onEnqueued)
    hub.on('cancel', this.#onCancel)
    hub.on('signalled', this.#onSignalled)
    hub.on('missed', this.#onMissed)
    hub.subscribe()
    if (!hub.notified) {
      // SQLite: no notifications across processes, so a short poll finds their enqueues and cancels
      const poll = setInterval(() => {
        worker.claim()
        if (worker.held().size > 0) this.forwardCancels()
        // only waiting runs: a running one takes its signals when it waits, or by the next poll
        worker.takeSignals('waiting')
      }, options.pollMs)
      poll.unref()
      this.#timers.push(poll)
    }
    this.#armSafetyPoll()
  }

  /** No more claims: enqueues and polls no longer wake the worker (cancels and signals still do). */
  stopClaims(): void {
    this.#stopped = true
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers.length = 0
    if (this.#safety !== undefined) clearTimeout(this.#safety)
    this.#hub.off('enqueued', this.#onEnqueued)
  }

  /** Nothing wakes the worker any more (it holds no run). */
  close(): void {
    this.#hub.off('cancel', this.#onCancel)
    this.#hub.off('signalled', this.#onSignalled)
    this.#hub.off('missed', this.#onMissed)
    this.#hub.unsubscribe()
  }

  /** Cancels asked from other processes for runs held here. */
  forwardCancels(): void {
    if (this.#forwarding) return
    this.#forwarding = true
    this.#hub.client.cancels(this.#worker.id).then(
      (asked) => {
        this.#forwarding = false
        for (const [id, policy] of asked) {
          const run = this.#worker.held().get(id)?.run
          if (run?.live()) void run.cancel({ policy: policy === 'allow_finish' ? 'allow_finish' : 'cancel_running' })
        }
      },
      (error: unknown) => {
        this.#forwarding = false
        this.#worker.error(error as Error)
      },
    )
  }

  #armSafetyPoll(): void {
    // jittered so that workers do not poll in step
    const delay = this.#safetyPollMs * (0.5 + Math.random())
    this.#safety = setTimeout(() => {
      this.#worker.polled()
      this.#worker.claim()
      if (this.#worker.held().size > 0) this.forwardCancels()
      if (!this.#stopped) this.#armSafetyPoll()
    }, delay)
    // ref'd: a worker keeps its process alive until it is stopped
  }
}
