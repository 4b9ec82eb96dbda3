/**
 * A metered attempt whose reservation waits for a lease (a store other
 * processes share, its local block spent): the meter's credit thread asks
 * the database, retrying while it is busy, locked by another process or
 * unreachable; this side only looks at the reservations' states (an atomic
 * read in the core each, no I/O) every few milliseconds, on ONE timer for
 * every waiting reservation of the process (armed only while some wait).
 * A timer, not a promise on a libuv thread: the wait may last as long as
 * another process holds a lock, and must not take a thread that reads need.
 */
import { native } from '../binding'

/** Between looks at the waiting reservations (the credit thread's tick is 25 ms). */
export const CREDIT_LOOK_MS = 5

interface Waiter {
  handle: number
  ticket: number
  live: () => boolean
  done: (balance?: number) => void
}

const waiting = new Set<Waiter>()
let timer: ReturnType<typeof setTimeout> | undefined

/** Whether `w` is settled now (and told so). */
function settled(w: Waiter): boolean {
  if (!w.live()) return (w.done(), true)
  let state: number[]
  try {
    state = native.meterWait(w.handle, w.ticket)
  } catch {
    return (w.done(), true) // the run is gone: its end cancelled the wait
  }
  if (state[0] === 0) return (w.done(), true)
  if (state[0] === 2) return (w.done(state[1]), true)
  return false
}

function lookAll(): void {
  timer = undefined
  for (const w of [...waiting]) if (settled(w)) waiting.delete(w)
  if (waiting.size > 0) timer = setTimeout(lookAll, CREDIT_LOOK_MS)
}

/**
 * Calls `done()` once the reservation (`ticket`, of run `handle`) is
 * reserved, `done(balance)` once refused (nothing is reserved), and
 * `done()` once `live()` is false (the run's end cancelled the wait).
 *
 * @example
 * awaitCredit(run.handle, ticket, () => run.live(), (balance) => balance === undefined ? go() : refuse(balance))
 */
export function awaitCredit(handle: number, ticket: number, live: () => boolean, done: (balance?: number) => void): void {
  const w: Waiter = { handle, ticket, live, done }
  if (settled(w)) return
  waiting.add(w)
  timer ??= setTimeout(lookAll, CREDIT_LOOK_MS)
}
