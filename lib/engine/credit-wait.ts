/**
 * A metered attempt whose reservation waits for a lease (a store other
 * processes share, its local block spent): the meter's credit thread asks
 * the database, retrying while it is busy, locked by another process or
 * unreachable, and TELLS this side which reservations settled, once per
 * pass of the thread (`NativeCreditWake`, a thread-safe function): each
 * reservation is looked at once (`meterWait`, an atomic read in the core),
 * after it settled. No timer, no promise on a libuv thread (the wait may
 * last as long as another process holds a lock, and must not take a thread
 * that reads need). While some reservation waits the process stays alive
 * (the wake is held), as it would for a timer; otherwise the wake is weak.
 */
import { native } from '../binding'
import type { NativeCreditWake } from '../native'

interface Waiter {
  handle: number
  ticket: number
  live: () => boolean
  done: (balance?: number) => void
}

/** One meter's waiting reservations. */
interface Waiting {
  wake: NativeCreditWake | null
  byTicket: Map<number, Waiter>
  /** Tickets told settled before their run followed them (an answer read after a commit): kept until followed or forgotten. */
  early: Set<number>
  held: boolean
}

/** By meter handle (handles are never reused). */
const meters = new Map<number, Waiting>()

/** Tells `w` how its reservation stands, now that it settled. */
function look(w: Waiter): void {
  if (!w.live()) return w.done() // the run's end cancelled the wait
  let state: number[]
  try {
    state = native.meterWait(w.handle, w.ticket)
  } catch {
    return w.done() // the run is gone: its end cancelled the wait
  }
  if (state[0] === 2) w.done(state[1])
  else w.done() // 0: reserved (1, waiting, is never told)
}

function hold(waiting: Waiting): void {
  const want = waiting.byTicket.size > 0
  if (want !== waiting.held && waiting.wake) {
    waiting.wake.hold(want)
    waiting.held = want
  }
}

/** The credit thread's news: tickets settled, `-ticket` cancelled by its run's end (see `meter_wake.rs`). */
function told(waiting: Waiting, tickets: number[]): void {
  for (const t of tickets) {
    const ticket = Math.abs(t)
    const w = waiting.byTicket.get(ticket)
    if (t < 0) waiting.early.delete(ticket)
    else if (!w) waiting.early.add(ticket)
    if (!w) continue
    waiting.byTicket.delete(ticket)
    if (t < 0) w.done()
    else look(w)
  }
  hold(waiting)
}

function waitingOn(meter: number): Waiting {
  let waiting = meters.get(meter)
  if (!waiting) {
    const created: Waiting = { wake: null, byTicket: new Map(), early: new Set(), held: false }
    // what settled before this call is told too: nothing is missed by listening late
    created.wake = native.meterListen(meter, (tickets) => told(created, tickets))
    meters.set(meter, (waiting = created))
  }
  return waiting
}

/**
 * Calls `done()` once the reservation (`ticket`, of run `handle` on meter
 * `meter`) is reserved, `done(balance)` once refused (nothing is reserved),
 * and `done()` once its run ended (the end cancelled the wait).
 *
 * @example
 * awaitCredit(run.meter.handle, run.handle, ticket, () => run.live(), (balance) => balance === undefined ? go() : refuse(balance))
 */
export function awaitCredit(meter: number, handle: number, ticket: number, live: () => boolean, done: (balance?: number) => void): void {
  const waiting = waitingOn(meter)
  const w: Waiter = { handle, ticket, live, done }
  if (waiting.early.delete(ticket)) return look(w)
  waiting.byTicket.set(ticket, w)
  hold(waiting)
}

/**
 * Closes meter `meter` (null: none, only the cost `tables`) and forgets its
 * waiting reservations' entry: it holds the credit thread's callback, which
 * would otherwise stay for the life of the process, one per closed meter.
 * Its runs have ended, so no reservation still waits.
 */
export function closeMeter(meter: number | null, tables: number[]): void {
  native.meterClose(meter, tables)
  const waiting = meter === null ? undefined : meters.get(meter)
  if (!waiting) return
  meters.delete(meter!)
  if (waiting.held) waiting.wake?.hold(false)
}

/** How many meters' reservations are listened to (diagnostics; the tests check that closing a meter forgets it). */
export function listenedMeters(): number {
  return meters.size
}
