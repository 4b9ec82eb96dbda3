/**
 * Timers for any duration a workflow may set. Node fires a timer of more
 * than 2^31 - 1 ms (about 24.8 days) at once, with a warning: a longer
 * delay here runs as equal slices of one Node timer, re-armed with
 * `refresh()`, so the handle stays the same object from start to end and
 * `clearTimeout` on it stops it whichever slice it is in.
 */
import { MAX_DURATION_MS } from '../workflow/duration'

/** The longest delay a Node timer keeps (2^31 - 1 ms). */
export const NODE_TIMER_MAX_MS = 2 ** 31 - 1

/**
 * Calls `fire` once after `ms` milliseconds, however long; never early.
 * A longer delay than {@link MAX_DURATION_MS} (an exponential backoff
 * that overflowed to `Infinity`) waits that long. `sliceMs` is for tests.
 *
 * @example
 * const timer = setLongTimeout(() => console.log('a month later'), 30 * 24 * 3_600_000)
 * clearTimeout(timer) // stops it, in any slice
 */
export function setLongTimeout(fire: () => void, ms: number, sliceMs = NODE_TIMER_MAX_MS): ReturnType<typeof setTimeout> {
  const total = ms > 0 ? Math.min(ms, MAX_DURATION_MS) : 0
  if (total <= sliceMs) return setTimeout(fire, total)
  let slices = Math.ceil(total / sliceMs)
  // equal slices, rounded up: refresh() re-arms with the first delay
  const timer: ReturnType<typeof setTimeout> = setTimeout(() => {
    if (--slices > 0) timer.refresh()
    else fire()
  }, Math.ceil(total / slices))
  return timer
}
