/**
 * Group commit of enqueues, one per hub: the runs of every `enqueue` call
 * made while a batch is in flight go together in the next one (one
 * transaction, the core's multi-row `enqueue`), so concurrent callers pay
 * about one transaction per round trip rather than one each. The first
 * call waits only for the current microtask's other calls.
 */
import type { NewRun, QueueClient } from './native'

export type EnqueueAnswer = { id: string; created: boolean; status: string }

/** Runs per transaction: bounds one statement's arrays and a failure's reach. */
export const GROUP_MAX = 5_000

interface Pending {
  runs: NewRun[]
  resolve: (answers: EnqueueAnswer[]) => void
  reject: (error: unknown) => void
}

export class EnqueueGroup {
  readonly #client: QueueClient
  #pending: Pending[] = []
  #inFlight = false
  #scheduled = false

  constructor(client: QueueClient) {
    this.#client = client
  }

  /** Enqueues `runs` (at most `GROUP_MAX`) with whatever else is waiting; answers in their order. */
  add(runs: NewRun[]): Promise<EnqueueAnswer[]> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ runs, resolve, reject })
      if (!this.#inFlight && !this.#scheduled) {
        this.#scheduled = true
        queueMicrotask(() => {
          this.#scheduled = false
          this.#send()
        })
      }
    })
  }

  #send(): void {
    if (this.#inFlight || this.#pending.length === 0) return
    // whole calls only: a call's runs share its transaction (and its failure)
    const batch: Pending[] = []
    let size = 0
    while (this.#pending.length > 0 && (batch.length === 0 || size + this.#pending[0]!.runs.length <= GROUP_MAX)) {
      const next = this.#pending.shift()!
      size += next.runs.length
      batch.push(next)
    }
    this.#inFlight = true
    this.#client.enqueue(batch.flatMap((p) => p.runs)).then(
      (answers) => {
        let at = 0
        for (const p of batch) {
          p.resolve(answers.slice(at, at + p.runs.length))
          at += p.runs.length
        }
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error)
      },
    ).finally(() => {
      this.#inFlight = false
      this.#send()
    })
  }
}
