/**
 * A run's signals, made on its first signal or wait: per name, the
 * payloads not taken yet (in arrival order) and the waits that wait for
 * one (oldest first). A signal goes to the oldest wait for its name, else
 * it is kept until a wait takes it, so one sent before the wait begins is
 * not lost. Durable runs journal both sides (see `run.ts` `signal`).
 */

/** A wait as the mailbox sees it: what it waits for, and how it is given a payload. */
export interface Waiting {
  readonly name: string
  /** Takes the payload (the wait ends with it). */
  take(payload: unknown): void
}

export class Mailbox {
  #kept: Map<string, unknown[]> | undefined
  #waiting: Map<string, Waiting[]> | undefined

  /** A signal: to the oldest wait for `name` (true), else kept (false). */
  deliver(name: string, payload: unknown): boolean {
    const waits = this.#waiting?.get(name)
    const wait = waits?.shift()
    if (wait === undefined) {
      const kept = (this.#kept ??= new Map()).get(name)
      if (kept) kept.push(payload)
      else this.#kept.set(name, [payload])
      return false
    }
    if (waits!.length === 0) this.#waiting!.delete(name)
    wait.take(payload)
    return true
  }

  /** The oldest signal kept for `name`, taken out (`found` false: none). */
  takeKept(name: string): { found: boolean; payload?: unknown } {
    const kept = this.#kept?.get(name)
    if (!kept || kept.length === 0) return { found: false }
    const payload = kept.shift()
    if (kept.length === 0) this.#kept!.delete(name)
    return { found: true, payload }
  }

  /** `wait` waits for its signal (none is kept for it). */
  park(wait: Waiting): void {
    const waits = (this.#waiting ??= new Map()).get(wait.name)
    if (waits) waits.push(wait)
    else this.#waiting.set(wait.name, [wait])
  }

  /** `wait` stops waiting (it timed out, or its task ended). */
  unpark(wait: Waiting): void {
    const waits = this.#waiting?.get(wait.name)
    if (!waits) return
    const at = waits.indexOf(wait)
    if (at >= 0) waits.splice(at, 1)
    if (waits.length === 0) this.#waiting!.delete(wait.name)
  }
}
