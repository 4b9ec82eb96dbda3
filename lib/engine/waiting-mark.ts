/**
 * A durable run's `waiting` status, written through its store (the row's
 * `waiting_since`, see the core's `Write::RunWaiting`) so that history and
 * `runs list --status waiting` show it. Coalesced: a run that parks or
 * unparks is noted here, and one shared timer per `SETTLE_MS` writes, for
 * each run noted, what it is then if that differs from what was written
 * last. A signal storm (thousands of park/unpark flips) costs at most one
 * write per run per window, and a run that parks only between two signals
 * of a burst costs none. No run holds a timer of its own.
 */

/** How long a change of a run's waiting state settles before it is written (ms). */
export const SETTLE_MS = 50

/** What the mark needs of a run: it checks its own state when asked. */
export interface WaitingMarked {
  /** Writes the run's waiting state if it changed since the last write. */
  settleWaiting(): void
}

const noted = new Set<WaitingMarked>()
let timer: ReturnType<typeof setTimeout> | undefined

/** The run's waiting state may have changed: written within `SETTLE_MS`. */
export function noteWaiting(run: WaitingMarked): void {
  noted.add(run)
  if (timer !== undefined) return
  timer = setTimeout(settle, SETTLE_MS)
  // a parked run keeps the process alive through its deadline, not through this
  timer.unref()
}

function settle(): void {
  timer = undefined
  const runs = [...noted]
  noted.clear()
  for (const run of runs) run.settleWaiting()
}
