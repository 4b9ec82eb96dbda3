/**
 * A worker (`engine.work`): claims runs of its queues in batches up to its
 * free capacity, runs each with the engine's own run machinery under the
 * run's id, fenced by the claim's epoch, and holds them under a lease it
 * renews with one call per third of the lease (`leases.ts`).
 *
 * Wake-ups (`wakeups.ts`): an enqueue or a run's end in this process claims
 * at once; another process's enqueue arrives as a PostgreSQL notice, or on
 * SQLite is found by a short poll (`pollInterval`); a jittered safety poll
 * of a few seconds is a backstop only. Signals stored for its runs from
 * other processes are taken into them at once (`stored-signals.ts`). The
 * runs it holds, and how one is let go, are `held.ts`'s.
 */
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'

import { LeaseLostError, UnknownWorkflowError } from '../errors'
import type { Run } from '../engine/run'
import type { RunEvent } from '../engine/events'
import { toFailure } from '../engine/failure'
import type { QueueHost } from './host'
import type { QueueHub } from './hub'
import { CLAIM_ACCOUNT, CLAIM_EPOCH, CLAIM_ID, CLAIM_INPUT, CLAIM_INPUT_IS_TEXT, CLAIM_TAKEN_OVER, CLAIM_WORKFLOW, type Claimed } from './native'
import type { CheckedWork } from './options'
import { Ends } from './ends'
import { HeldRuns, type Held } from './held'
import { Leases } from './leases'
import { StoredSignals } from './stored-signals'
import { Wakeups } from './wakeups'

/** `worker.stats()`. */
export interface WorkerStats {
  /** Runs claimed since the worker started (takeovers included). */
  claimed: number
  /** Runs held now. */
  running: number
  /** Runs that ended here (any final status). */
  completed: number
  /** Runs taken over by another worker while this one held them. */
  lostLeases: number
  /** Claimed runs that were takeovers (resumed from their journal). */
  takenOver: number
  /** Safety polls made (a backstop: a normal run is found by a notice or an in-process wake-up). */
  polls: number
}

/** The worker's own events: not run events, so no reason to follow the engine's (see the constructor). */
const OWN_EVENTS = new Set<string | symbol>(['error', 'stopped', 'newListener', 'removeListener'])

/** After a failed claim, wait this long before the next. */
const CLAIM_BACKOFF_MS = 1_000

export class Worker extends EventEmitter {
  /** The worker's id: the owner of the runs it claims. */
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  readonly #host: QueueHost
  readonly #hub: QueueHub
  readonly #options: CheckedWork
  /** The runs it holds, buffered or started (`held.ts`). */
  readonly #held: HeldRuns
  readonly #leases: Leases
  #claiming = false
  #again = false
  /** Claim answers received: orders claims against renewals. */
  #claimSeq = 0
  #stopping = false
  /** Resolves once stopped: every run ended here or was released. */
  #stopped: Promise<void> | undefined
  readonly #stats = { claimed: 0, completed: 0, lostLeases: 0, takenOver: 0, polls: 0 }
  readonly #wakeups: Wakeups
  /** Stops following the engine's events (`newListener`); undefined until then. */
  #unlisten: (() => void) | undefined
  /** Stopped: no longer follows the engine's events. */
  #closed = false
  readonly #signals: StoredSignals

  /** @internal Made by `engine.work`. */
  constructor(host: QueueHost, options: CheckedWork) {
    super()
    this.#host = host
    this.#hub = host.hub()
    this.#options = options
    this.#signals = new StoredSignals(host.store, (error) => this.#error(error))
    this.#held = new HeldRuns(this.#signals)
    this.#leases = new Leases(host.store, this.#hub.client, this.id, options.leaseMs, {
      held: () => this.#held.byId,
      claimSeq: () => this.#claimSeq,
      lost: (id) => this.#lost(id),
      error: (error) => this.#error(error),
    })
    this.#ends = new Ends<Held>(host.store, {
      // the slots are free now: buffered runs start, and a claim goes while the ends commit
      freed: () => {
        this.#startBuffered()
        this.#pump()
      },
      committed: (batch) => this.#completed(batch),
    })
    // the engine's events are followed only once the worker has a run-event
    // listener: else each event of each run would pay a listener call for nothing
    this.on('newListener', (type: string | symbol) => {
      if (this.#unlisten === undefined && !this.#closed && !OWN_EVENTS.has(type)) {
        this.#unlisten = host.listen((event) => {
          if (this.#held.follows(event.runId)) this.#emitEvent(event)
        })
      }
    })
    this.#wakeups = new Wakeups(this.#hub, options, {
      id: this.id,
      claim: () => this.#pump(),
      held: () => this.#held.byId,
      takeSignals: (which) => {
        for (const [id, held] of this.#held.byId) {
          if (held.run && (which === '*' || (which === 'waiting' ? held.run.status === 'waiting' : which.includes(id)))) this.#signals.take(held.run)
        }
      },
      polled: () => void this.#stats.polls++,
      error: (error) => this.#error(error),
    })
    queueMicrotask(() => this.#pump())
  }

  stats(): WorkerStats {
    return { ...this.#stats, running: this.#running() }
  }

  /**
   * Stops claiming. `drain: true` (default) waits for the runs in flight to
   * end; `drain: false` aborts them here and releases them at once for
   * another worker to take over (resumed from their journal there).
   *
   * @example
   * process.once('SIGTERM', () => void worker.stop({ drain: true }))
   */
  stop(options: { drain?: boolean } = {}): Promise<void> {
    // drain: false may come after drain: true (a second Ctrl-C): the runs still held are released then
    if (options.drain === false) this.#releasing ??= this.#release().finally(() => (this.#released = true))
    if (!this.#stopped) {
      this.#stopping = true
      this.#wakeups.stopClaims()
      this.#stopped = this.#settle().then(() => {
        this.#leases.stop()
        this.#wakeups.close()
        this.#closed = true
        this.#unlisten?.()
        this.#unlisten = undefined
        this.emit('stopped')
      })
    }
    return this.#stopped
  }

  #releasing: Promise<void> | undefined
  #released = false

  /** Until no run is held, no claim is in flight and a release asked for is done. */
  async #settle(): Promise<void> {
    while (this.#claiming || this.#held.size > 0 || (this.#releasing !== undefined && !this.#released)) {
      // a short poll, only while stopping: ends, their commits, a claim in flight and a release all settle it
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async #release(): Promise<void> {
    while (this.#claiming) await new Promise((resolve) => setTimeout(resolve, 10))
    const runs: Array<[string, number]> = []
    // no longer held before they are abandoned: their ends are not completions
    for (const [id, { run, epoch }] of this.#held.takeAll()) {
      runs.push([id, epoch])
      this.#held.abandon(id, run, new LeaseLostError(id, `run ${id} was released by its worker's stop (drain: false): another worker takes it over`), 'released')
    }
    // what the runs queued lands (still fenced at our epoch) before they are let go
    await this.#host.store.committed(this.#host.store.stats().enqueued)
    if (runs.length > 0) {
      try {
        await this.#hub.client.release(this.id, runs)
      } catch (error) {
        this.#error(error as Error)
      }
    }
    for (const [id] of runs) this.#host.store.native.unfence(id)
  }

  /** Claims up to the free capacity; again at once while claims come back full. */
  #pump(): void {
    if (this.#stopping) return
    if (this.#claiming) {
      this.#again = true
      return
    }
    // a run whose end waits for its commit no longer takes a slot: capacity is
    // not held for a flush interval per run; the write-behind queue's own bound
    // (backpressure) limits how many ends may wait. Buffered runs are held.
    const free = this.#options.concurrency + this.#options.prefetch - (this.#running() + this.#held.buffered)
    if (free <= 0) return
    this.#claiming = true
    this.#again = false
    // every write of a claimed run, its start included, is checked against its claim: fenced natively, before the answer
    this.#hub.client.claim(this.id, this.#options.queues, free, this.#options.leaseMs, this.#host.store.native).then(
      (claims) => {
        this.#claimSeq++
        this.#claiming = false
        for (const claim of claims) this.#take(claim)
        if (claims.length === free || this.#again) this.#pump()
      },
      (error: unknown) => {
        this.#claiming = false
        this.#error(error as Error)
        if (!this.#stopping) {
          const retry = setTimeout(() => this.#pump(), CLAIM_BACKOFF_MS)
          retry.unref()
        }
      },
    )
  }

  /** Holds a claimed run: fenced and leased at once; started now, or buffered while every slot is taken (`prefetch`). */
  #take(claim: Claimed): void {
    const id = claim[CLAIM_ID]
    const epoch = claim[CLAIM_EPOCH]
    const stale = this.#held.byId.get(id)
    if (stale) {
      // claimed again while held: the database lost this worker's claim (claims commit without
      // waiting for their fsync; a crash lost it) and gave the run out anew, at the same epoch
      this.#reclaimed(id, stale)
      claim[CLAIM_TAKEN_OVER] = true
    }
    this.#stats.claimed++
    const held: Held = { run: undefined, epoch, claimSeq: this.#claimSeq }
    this.#held.hold(id, held)
    if (this.#running() > this.#options.concurrency) this.#held.buffer(claim, held)
    else this.#launch(claim, held)
  }

  /** Starts buffered runs while slots are free (one lost or released meanwhile is skipped). */
  #startBuffered(): void {
    while (this.#held.buffered > 0 && this.#running() < this.#options.concurrency) {
      const next = this.#held.nextBuffered()
      if (next) this.#launch(next[0], next[1])
    }
  }

  /** Runs a held run: started, or resumed when taken over; a run that cannot start ends failed. */
  #launch(claim: Claimed, held: Held): void {
    const id = claim[CLAIM_ID]
    const store = this.#host.store
    const workflow = this.#host.workflow(claim[CLAIM_WORKFLOW])
    if (!workflow) return this.#failUnstarted(id, new UnknownWorkflowError(claim[CLAIM_WORKFLOW]))
    if (claim[CLAIM_TAKEN_OVER]) {
      this.#stats.takenOver++
      // the run's record and journal are read off the JS thread (after this process's queued writes commit), then resumed
      store.runInfo(id).then(
        (stored) => {
          // released or lost while it was read: nothing to resume here
          if (!this.#held.holds(id, held)) return
          // engine.resume's logic: the run's own version, completed tasks never again
          this.#run(id, held, true, () => this.#host.resumeClaimed(id, stored))
        },
        (error: unknown) => {
          if (this.#held.holds(id, held)) this.#failUnstarted(id, error)
        },
      )
    } else {
      // a stored input that is not JSON throws in its parse, in `#run`: that run alone ends failed
      this.#run(id, held, false, () => {
        const input: unknown = claim[CLAIM_INPUT_IS_TEXT] ? JSON.parse(claim[CLAIM_INPUT] as string) : claim[CLAIM_INPUT]
        return this.#host.startClaimed(workflow, input, id, claim[CLAIM_ACCOUNT] ?? undefined)
      })
    }
  }

  /** Starts (or resumes: `takenOver`) the run with `launch`, held as `held`; a run that cannot start ends failed. */
  #run(id: string, held: Held, takenOver: boolean, launch: () => Run): void {
    let run: Run
    try {
      run = launch()
    } catch (error) {
      return this.#failUnstarted(id, error)
    }
    held.run = run
    this.#signals.hold(run, takenOver)
    const ended = (): void => this.#ended(id, run)
    void run.result().then(ended, ended)
  }

  /** The run could not start here: it ends `failed` with the error recorded on it. */
  #failUnstarted(id: string, error: unknown): void {
    const failure = toFailure(error)
    delete failure.stack
    const seq = this.#host.store.native.endUnstarted(id, 'failed', JSON.stringify(failure))
    this.#error(Object.assign(error instanceof Error ? error : new Error(String(error)), { runId: id }))
    void this.#host.store.committed(seq).then(() => {
      this.#held.forget(id)
      this.#stats.completed++
      this.#hub.emit('ended', [id])
      this.#startBuffered()
      this.#pump()
    })
  }

  /** The run ended here: it waits for its end's commit in `#ends`, no longer taking a slot. */
  #ended(id: string, run: Run): void {
    const held = this.#held.byId.get(id)
    if (held?.run !== run) return // released or lost: accounted there
    if (held.ended) return
    held.ended = true
    this.#ends.add(id, held)
  }

  readonly #ends: Ends<Held>

  /** Held runs taking a slot: neither ended nor buffered. */
  #running(): number {
    return Math.max(0, this.#held.size - this.#ends.waiting - this.#held.buffered)
  }

  /**
   * Ends committed: those the fence did not refuse are completed. No claim
   * follows: their slots were freed (and a claim sent) when they ended, and
   * a commit frees none, so a claim here would find nothing new while a
   * claim an enqueue's notice asks for waited behind it on the connection.
   */
  #completed(batch: Array<[string, Held]>): void {
    this.#leases.checkRefusals()
    for (const [id, held] of batch) {
      if (!this.#held.holds(id, held)) continue // refused: lost
      this.#held.forget(id)
      this.#stats.completed++
    }
  }

  /** Another worker holds the run now: abort it here, write nothing more. */
  #lost(id: string): void {
    const held = this.#held.byId.get(id)
    if (!held) return
    this.#stats.lostLeases++
    // live, waiting, or ended but not yet committed (`sync`): abandoned; else
    // it ended here, but its end was refused: the run is another worker's, and says so
    if (!this.#held.drop(id, held)) this.#emitEvent({ type: 'run.lease_lost', runId: id, time: Date.now(), reason: 'lost' })
    // its writes still queued are refused by the fence; then let go of it
    const store = this.#host.store
    void store.committed(store.stats().enqueued).then(() => store.native.unfence(id))
    this.#pump()
  }

  /**
   * The first attempt of a run claimed again goes as a lost one does, but
   * stays fenced (the new claim's fence is the same): its writes still
   * queued land, and the new attempt resumes from them, once they commit.
   * One that ended here is not abandoned: its end, still queued, lands,
   * and the resume finds it ended.
   */
  #reclaimed(id: string, stale: Held): void {
    this.#stats.lostLeases++
    this.#held.drop(id, stale, `run ${id} was claimed again: the database lost this worker's claim (a crash before it reached the disk); it is resumed from its journal`)
  }

  #emitEvent(event: RunEvent): void {
    this.emit(event.type, event)
    this.emit('event', event)
  }

  /** An error of the worker's own (a claim, a renewal): its 'error' listeners, else a process warning. */
  #error(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
    else process.emitWarning(error)
  }
}
