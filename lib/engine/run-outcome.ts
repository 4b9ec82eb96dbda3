/**
 * A run's outcome as its caller awaits it: the promise is made only when
 * someone asks (a run nobody awaits leaves no rejected promise behind),
 * and settles once the run's end is announced.
 */
export class RunOutcome {
  #settled = false
  #output: unknown
  #error: Error | undefined
  #done: Promise<unknown> | undefined
  #resolve: ((output: unknown) => void) | undefined
  #reject: ((error: Error) => void) | undefined
  #listener: ((error: Error | undefined, output: unknown) => void) | undefined

  /** The outcome's promise: pending until `settle`, then its result. */
  promise(): Promise<unknown> {
    if (!this.#done) {
      if (!this.#settled) {
        this.#done = new Promise((resolve, reject) => {
          this.#resolve = resolve
          this.#reject = reject
        })
      } else this.#done = this.#error ? Promise.reject(this.#error) : Promise.resolve(this.#output)
    }
    return this.#done
  }

  /**
   * `then(error, output)` once settled (at once if it is), with no promise
   * of its own: the engine's own waiter (a parent's workflow task).
   */
  listen(then: (error: Error | undefined, output: unknown) => void): void {
    if (this.#settled) return then(this.#error, this.#output)
    const before = this.#listener
    this.#listener = before ? (error, output) => (before(error, output), then(error, output)) : then
  }

  /** The run's end is announced: an error, or its output. */
  settle(error: Error | undefined, output: unknown): void {
    this.#settled = true
    this.#error = error
    this.#output = output
    const listener = this.#listener
    this.#listener = undefined
    // the promise first: the listener (a parent's whole turn) may throw
    if (this.#resolve) {
      if (error) this.#reject!(error)
      else this.#resolve(output)
    }
    listener?.(error, output)
  }
}
