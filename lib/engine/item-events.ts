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

export class ItemEvents {
  #time = new Float64Array(256)
  #index = new Int32Array(256)
  #attempt = new Int32Array(256)
  #code = new Uint8Array(256)
  /** Each row's run and task, as a number into `#sources` (a child's items are kept in its parent's log too). */
  #source = new Uint32Array(256)
  readonly #sources: Array<[runId: string, task: string]> = []
  readonly #byRun = new Map<string, Map<string, number>>()
  #last = -1
  length = 0

  /** Adds an item's event (`status` undefined: it started); answers its row. */
  add(runId: string, time: number, task: string, attempt: number, index: number, status: ItemStatus | undefined): number {
    const row = this.length
    if (row === this.#time.length) this.#grow()
    this.#time[row] = time
    this.#index[row] = index
    this.#attempt[row] = attempt
    this.#code[row] = status === undefined ? 0 : CODE[status]
    this.#source[row] = this.#sourceOf(runId, task)
    this.length = row + 1
    return row
  }

  /** The event of `row`, made anew. */
  at(row: number): ItemEvent {
    const [runId, task] = this.#sources[this.#source[row]!]!
    const time = this.#time[row]!
    const attempt = this.#attempt[row]!
    const index = this.#index[row]!
    const status = STATUS[this.#code[row]!]
    // literals with every field at once, in the order the engine emitted them: one shape per type
    return status === undefined
      ? { type: 'item.started', runId, time, task, attempt, index }
      : { type: 'item.completed', runId, time, task, attempt, index, status }
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

  #grow(): void {
    const size = this.#time.length * 2
    const grown = <T extends Float64Array | Int32Array | Uint8Array | Uint32Array>(from: T, to: T): T => (to.set(from), to)
    this.#time = grown(this.#time, new Float64Array(size))
    this.#index = grown(this.#index, new Int32Array(size))
    this.#attempt = grown(this.#attempt, new Int32Array(size))
    this.#code = grown(this.#code, new Uint8Array(size))
    this.#source = grown(this.#source, new Uint32Array(size))
  }
}
