/**
 * The HTTP requests waiting for a run's end (`wait`), each with the time it
 * gives up at. A `wait: true` request gives up after `MAX_WAIT_MS`: one
 * sweep a second finds those past it, instead of a timer armed and cleared
 * per request (a trivial run ends a few microtasks after it starts). A
 * `wait` of some milliseconds keeps a timer of its own: it is answered on
 * time. Shutdown's grace period gives up on all of them at once.
 */
const SWEEP_MS = 1_000

/** A clock that wall-clock steps (NTP, a changed date) do not move. */
const monotonic = (): number => performance.now()

export class Waits {
  /** Each wait's give-up, and when it is due (ms on the monotonic clock). */
  readonly #due = new Map<() => void, number>()
  #sweep: NodeJS.Timeout | undefined

  /** `giveUp` is called once `ms` have passed (to the second), unless `delete`d first. */
  add(giveUp: () => void, ms: number): void {
    this.#due.set(giveUp, monotonic() + ms)
    // armed while there are waits, disarmed by the sweep that finds none: not once per request
    this.#sweep ??= setInterval(() => this.#expire(), SWEEP_MS).unref()
  }

  delete(giveUp: () => void): void {
    this.#due.delete(giveUp)
  }

  /** Shutdown: every wait answers now. */
  giveUpAll(): void {
    for (const giveUp of [...this.#due.keys()]) giveUp()
  }

  #expire(): void {
    if (this.#due.size === 0) {
      clearInterval(this.#sweep)
      this.#sweep = undefined
      return
    }
    const now = monotonic()
    for (const [giveUp, due] of this.#due) if (due <= now) giveUp()
  }
}
