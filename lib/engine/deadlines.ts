/**
 * The one timer structure behind every wait's timeout and every sleep: a
 * binary min-heap of deadlines driving a single Node timer (armed for the
 * earliest, through `setLongTimeout`, so any duration works). A waiting
 * run holds an entry here, not a timer of its own: 100,000 waits cost
 * 100,000 small objects and one timer.
 */
import { setLongTimeout } from './timers'

/** A deadline: `fire` runs once when `due` (epoch ms) comes, unless removed first. */
export interface Deadline {
  due: number
  fire(): void
  /** Its place in the heap (-1: not in it); kept by the heap. */
  slot: number
}

const heap: Deadline[] = []
let timer: ReturnType<typeof setTimeout> | undefined
/** The due time the timer is armed for. */
let armedFor = Infinity

/**
 * Adds `deadline`; it fires at once (on a later tick) when due already.
 *
 * @example
 * addDeadline({ due: Date.now() + 60_000, fire: () => console.log('a minute later'), slot: -1 })
 */
export function addDeadline(deadline: Deadline): void {
  deadline.slot = heap.length
  heap.push(deadline)
  up(deadline.slot)
  arm()
}

/** Removes `deadline` (no-op when it fired or was removed). */
export function removeDeadline(deadline: Deadline): void {
  const at = deadline.slot
  if (at < 0 || heap[at] !== deadline) return
  deadline.slot = -1
  const last = heap.pop()!
  if (at < heap.length) {
    heap[at] = last
    last.slot = at
    down(at)
    up(last.slot)
  }
  if (heap.length === 0) disarm()
}

/** Deadlines held now (for tests and stats). */
export function deadlineCount(): number {
  return heap.length
}

function arm(): void {
  const first = heap[0]
  if (first === undefined) return disarm()
  if (timer !== undefined && armedFor <= first.due) return
  if (timer !== undefined) clearTimeout(timer)
  armedFor = first.due
  timer = setLongTimeout(fireDue, first.due - Date.now())
}

function disarm(): void {
  if (timer !== undefined) clearTimeout(timer)
  timer = undefined
  armedFor = Infinity
}

function fireDue(): void {
  timer = undefined
  armedFor = Infinity
  const now = Date.now()
  // what is due now; a deadline added while firing waits for the next turn
  const due: Deadline[] = []
  while (heap.length > 0 && heap[0]!.due <= now) {
    const first = heap[0]!
    removeDeadline(first)
    due.push(first)
  }
  arm()
  for (const deadline of due) deadline.fire()
}

function less(a: number, b: number): boolean {
  return heap[a]!.due < heap[b]!.due
}

function swap(a: number, b: number): void {
  const x = heap[a]!
  const y = heap[b]!
  heap[a] = y
  heap[b] = x
  x.slot = b
  y.slot = a
}

function up(at: number): void {
  while (at > 0) {
    const parent = (at - 1) >> 1
    if (!less(at, parent)) return
    swap(at, parent)
    at = parent
  }
}

function down(at: number): void {
  for (;;) {
    const left = 2 * at + 1
    const right = left + 1
    let least = at
    if (left < heap.length && less(left, least)) least = left
    if (right < heap.length && less(right, least)) least = right
    if (least === at) return
    swap(at, least)
    at = least
  }
}
