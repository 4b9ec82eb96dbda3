/**
 * A run log's `item.started` and `item.completed` events, kept as columns
 * of numbers rather than as objects: a 100,000-item task has 200,000 of
 * them, alive for the whole run, and as objects (with a boxed `time`) they
 * were most of what each young-generation GC had to copy and promote and
 * what the old generation's marking then walked: the event loop's slowest
 * turns during a long with-items run. An event is made again, with the
 * same fields in the same order, when someone reads it.
 */

/** How an item ended (an attempt's status). */
export type ItemStatus = 'succeeded' | 'failed' | 'timed_out'

/** The events as `events.ts` declares them (`ItemStartedEvent`, `ItemCompletedEvent`), which imports this file. */
type ItemEvent =
  | { type: 'item.started'; runId: string; time: number; task: string; attempt: number; index: number }
  | { type: 'item.completed'; runId: string; time: number; task: string; attempt: number; index: number; status: ItemStatus }

/** `code` 0: started; else the completed item's status. */
const STATUS: ReadonlyArray<ItemStatus | undefined> = [undefined, 'succeeded', 'failed', 'timed_out']
const CODE: Readonly<Record<ItemStatus, number>> = { succeeded: 1, failed: 2, timed_out: 3 }

/** Rows of a page at most: past it, a page more (the rows kept never move: no copy as the log grows). */
const PAGE_ROWS = 4096
/** Per row in `ints`: index, attempt, code, source. */
const INTS = 4

interface Page {
  /** Its first row. */
  readonly from: number
  readonly time: Float64Array
  readonly ints: Int32Array
}

export class ItemEvents {
  /** Pages of rows, by `from`: the first ones small (most runs have few items), doubling up to PAGE_ROWS. */
  readonly #pages: Page[] = []
  /** The page `at` read last: reads go in order. */
  #read = 0
  /** Each row's run and task, as a number into `#sources` (a child's items are kept in its parent's log too). */
  readonly #sources: Array<[runId: string, task: string]> = []
  readonly #byRun = new Map<string, Map<string, number>>()
  #last = -1
  length = 0

  /** Adds an item's event (`status` undefined: it started); answers its row. */
  add(runId: string, time: number, task: string, attempt: number, index: number, status: ItemStatus | undefined): number {
    const row = this.length
    let page = this.#pages[this.#pages.length - 1]
    if (page === undefined || row - page.from === page.time.length) page = this.#newPage(row)
    const slot = row - page.from
    page.time[slot] = time
    const i = slot * INTS
    page.ints[i] = index
    page.ints[i + 1] = attempt
    page.ints[i + 2] = status === undefined ? 0 : CODE[status]
    page.ints[i + 3] = this.#sourceOf(runId, task)
    this.length = row + 1
    return row
  }

  /** The event of `row`, made anew. */
  at(row: number): ItemEvent {
    const page = this.#pageOf(row)
    const slot = row - page.from
    const i = slot * INTS
    const [runId, task] = this.#sources[page.ints[i + 3]!]!
    const time = page.time[slot]!
    const index = page.ints[i]!
    const attempt = page.ints[i + 1]!
    const status = STATUS[page.ints[i + 2]!]
    // literals with every field at once, in the order the engine emitted them: one shape per type
    return status === undefined
      ? { type: 'item.started', runId, time, task, attempt, index }
      : { type: 'item.completed', runId, time, task, attempt, index, status }
  }

  #newPage(from: number): Page {
    const rows = Math.min(PAGE_ROWS, Math.max(64, from))
    const page = { from, time: new Float64Array(rows), ints: new Int32Array(rows * INTS) }
    this.#pages.push(page)
    return page
  }

  #pageOf(row: number): Page {
    const pages = this.#pages
    let p = this.#read < pages.length ? this.#read : 0
    if (row < pages[p]!.from) p = 0
    while (row >= pages[p]!.from + pages[p]!.time.length) p++
    this.#read = p
    return pages[p]!
  }

  #sourceOf(runId: string, task: string): number {
    // the same strings each time (the run's id, the task definition's name): compared by reference first
    const last = this.#sources[this.#last]
    if (last !== undefined && last[0] === runId && last[1] === task) return this.#last
    let tasks = this.#byRun.get(runId)
    if (tasks === undefined) this.#byRun.set(runId, (tasks = new Map()))
    let source = tasks.get(task)
    if (source === undefined) tasks.set(task, (source = this.#sources.push([runId, task]) - 1))
    return (this.#last = source)
  }
}
