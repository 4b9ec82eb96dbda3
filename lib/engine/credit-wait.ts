/**
 * A metered attempt whose reservation waits for a lease (a store other
 * processes share, its local block spent): the meter's credit thread asks
 * the database, retrying while it is busy, locked by another process or
 * unreachable; this side only looks at the reservation's state (an atomic
 * read in the core, no I/O) every few milliseconds. A look on a timer, not
 * a promise on a libuv thread: the wait may last as long as another
 * process holds a lock, and must not take a thread that reads need.
 */
import { native } from '../binding'

/** Between looks at a waiting reservation (the credit thread's tick is 25 ms). */
export const CREDIT_LOOK_MS = 5

/**
 * Calls `done()` once the reservation (`ticket`, of run `handle`) is
 * reserved, `done(balance)` once refused (nothing is reserved), and
 * `done()` once `live()` is false (the run's end cancelled the wait).
 *
 * @example
 * awaitCredit(run.handle, ticket, () => run.live(), (balance) => balance === undefined ? go() : refuse(balance))
 */
export function awaitCredit(handle: number, ticket: number, live: () => boolean, done: (balance?: number) => void): void {
  const look = (): void => {
    if (!live()) return done()
    let state: number[]
    try {
      state = native.meterWait(handle, ticket)
    } catch {
      return done() // the run is gone: its end cancelled the wait
    }
    if (state[0] === 0) return done()
    if (state[0] === 2) return done(state[1])
    setTimeout(look, CREDIT_LOOK_MS)
  }
  look()
}
