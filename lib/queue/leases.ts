/**
 * A worker's leases: one renewal call per third of the lease renews every
 * run it holds (by owner, in one statement) and answers those it still
 * holds; the writer reports runs whose flushed writes were refused
 * (`takeLost`), checked more often since it costs no database call. A run
 * missing from either answer is lost: the worker aborts it (`worker.ts`).
 *
 * A run the database names as this worker's but that it does not hold (a
 * claim committed whose answer was lost) is released for any worker to take.
 *
 * A run counts as missing from a renewal only if its claim answered before
 * the renewal was sent (claims and renewals share one connection, so that
 * claim had committed), and only while it has not ended here: an end that
 * committed clears the run's owner, so a renewal sent before this process
 * hears of the commit misses it; whether such an end was refused (the
 * lease lost) is the writer's to say (`takeLost`). That holds for a `sync`
 * run too, whose end is recorded (the run no longer live) before its
 * commit is heard and `ended` set.
 */
import type { DurableStore } from '../store/store'
import type { QueueClient } from './native'

interface Held {
  epoch: number
  claimSeq: number
  /** It ended here; its end waits for its commit. */
  ended?: boolean
  /** Its run, once started: not live once its end is recorded (a `sync` end waits for its commit before `ended`). */
  run?: { live(): boolean }
}

export interface LeaseOwner {
  held(): ReadonlyMap<string, Held>
  /** Claim answers received so far. */
  claimSeq(): number
  lost(id: string): void
  error(error: Error): void
}

/** How often the writer's refusals are looked at. */
const LOST_CHECK_MS = 100

export class Leases {
  readonly #timers: Array<ReturnType<typeof setInterval>>
  readonly #refusals: () => void
  #renewing = false

  /** Looks at the writer's refusals now (a run's end committed: was it refused?). */
  checkRefusals(): void {
    this.#refusals()
  }

  constructor(store: DurableStore, client: QueueClient, worker: string, leaseMs: number, owner: LeaseOwner) {
    const renew = setInterval(() => {
      if (this.#renewing || owner.held().size === 0) return
      this.#renewing = true
      const seen = owner.claimSeq()
      client.renew(worker, leaseMs).then(
        (still) => {
          this.#renewing = false
          const epochs = new Map(still)
          const runs = owner.held()
          // runs the database says are this worker's that it does not hold: a claim that committed
          // but whose answer was lost. Renewed forever, they would never run: give them back (the
          // release touches only runs still this worker's, at that epoch, running: an end that
          // committed since, or a run another worker took, is left alone)
          const orphans = still.filter(([id]) => !runs.has(id))
          for (const [id, held] of runs) {
            if (held.claimSeq <= seen && !held.ended && held.run?.live() !== false && epochs.get(id) !== held.epoch) owner.lost(id)
          }
          if (orphans.length > 0) client.release(worker, orphans).catch((error: unknown) => owner.error(error as Error))
        },
        (error: unknown) => {
          // the database is unreachable: the lease may run out meanwhile, which a later answer (or the fence) tells
          this.#renewing = false
          owner.error(error as Error)
        },
      )
    }, Math.max(100, Math.floor(leaseMs / 3)))
    this.#refusals = (): void => {
      if (owner.held().size === 0) return
      const lost = JSON.parse(store.native.takeLost()) as Array<[string, number]>
      for (const [id, epoch] of lost) if (owner.held().get(id)?.epoch === epoch) owner.lost(id)
    }
    const refused = setInterval(this.#refusals, LOST_CHECK_MS)
    renew.unref()
    refused.unref()
    this.#timers = [renew, refused]
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer)
  }
}
