/**
 * The one way arcflow links abort signals: a child controller made on
 * first use (most handlers never read their signal), aborted with its
 * parent, and unlinked once its owner ends so a long-lived parent does not
 * keep every child alive.
 */
import { setMaxListeners } from 'node:events'

export class LinkedSignal {
  #controller: AbortController | undefined
  #parent: AbortSignal | undefined
  #onAbort: (() => void) | undefined

  /**
   * The child signal: made now, aborted at once when the parent is (or
   * `ended` gives a reason), else following the parent while `follow`.
   */
  signal(parent: AbortSignal | undefined, ended?: unknown, follow = true): AbortSignal {
    if (!this.#controller) {
      const controller = new AbortController()
      // one listener per in-flight handler is expected, not a leak
      setMaxListeners(0, controller.signal)
      this.#controller = controller
      if (ended !== undefined) controller.abort(ended)
      else if (parent?.aborted) controller.abort(parent.reason)
      else if (parent && follow) {
        this.#parent = parent
        this.#onAbort = (): void => controller.abort(parent.reason)
        parent.addEventListener('abort', this.#onAbort, { once: true })
      }
    }
    return this.#controller.signal
  }

  /** Aborts the child (if made and not yet aborted). */
  abort(reason: unknown): void {
    if (this.#controller && !this.#controller.signal.aborted) this.#controller.abort(reason)
  }

  /** The owner ended: the parent forgets the child. */
  unlink(): void {
    if (this.#onAbort) this.#parent!.removeEventListener('abort', this.#onAbort)
    this.#onAbort = undefined
    this.#parent = undefined
  }
}
