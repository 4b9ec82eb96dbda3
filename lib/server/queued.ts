/**
 * The server in front of workers (`serve --queue NAME`, `createHandler({
 * queue })`): runs are enqueued (`engine.enqueue`), never run here; a
 * worker in any process claims them. What the server still does:
 * - `wait` answers through `engine.result` (woken by the database's notice
 *   of the run's end);
 * - event streams follow the store's journal: the run's events rebuilt
 *   from it (`replay.ts`), read again each time a worker commits a batch of
 *   the run's writes (the `{"w":[ids]}` notice of PostgreSQL, `written` on
 *   the hub; SQLite across processes: a short poll), numbered by their
 *   place in that rebuilt stream, so `Last-Event-ID` resumes exactly;
 * - cancels go through `engine.cancel` (to whichever worker holds the
 *   run), signals through `engine.signal` (stored, and taken at once by the
 *   holding worker: `queue/stored-signals.ts`).
 *
 * `idempotencyKey` is `enqueue`'s `key` here: a start with a key used
 * before answers that run (200, `created: false`) whatever its state,
 * failed or cancelled included (unlike in-process serving, where such a
 * key starts a new run); a reuse for another workflow, input or account is
 * a 409.
 */
import type { Engine, RunInfo } from '../engine/engine'
import type { CancelPolicy } from '../engine/run-types'
import { AbortedError, QueueError } from '../errors'
import type { QueueHub } from '../queue/hub'
import type { WorkflowDefinition } from '../workflow/model'
import { notFound, ProblemError } from './problems'
import { publicError } from './public'
import { replayEvents } from './replay'
import { canonical, type RunEnd } from './run-end'
import type { Source, Subscriber } from './hub'
import type { StartRequest } from './start-request'

/** SQLite has no notifications across processes: how often a stream reads the journal again. */
const SQLITE_POLL_MS = 250
/** PostgreSQL: the backstop of a missed notice. */
const SAFETY_POLL_MS = 5_000

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'timed_out'])

export class QueuedRuns {
  readonly #engine: Engine
  readonly #queue: string
  readonly #hub: QueueHub
  /** The stop of each following stream, by subscriber. */
  readonly #stops = new WeakMap<Subscriber, () => void>()

  /** The workflows served, by name: the task order of their runs' rebuilt events. */
  readonly #workflows: ReadonlyMap<string, WorkflowDefinition>

  constructor(engine: Engine, queue: string, workflows: ReadonlyMap<string, WorkflowDefinition>) {
    this.#engine = engine
    this.#queue = queue
    this.#workflows = workflows
    this.#hub = engine.queueHub()
    // one listening connection for the streams (and result waits) of this server
    this.#hub.subscribe()
  }

  close(): void {
    this.#hub.unsubscribe()
  }

  async start(wf: WorkflowDefinition, req: StartRequest): Promise<{ runId: string; created: boolean; status: RunInfo['status'] }> {
    const answer = await this.#engine.enqueue(wf, req.input, { queue: this.#queue, ...(req.idempotencyKey !== undefined ? { key: req.idempotencyKey } : {}), ...(req.account ? { account: req.account } : {}) })
    if (!answer.created) {
      const stored = await this.#engine.getRun(answer.id)
      const known = stored && canonical({ workflow: stored.workflow, input: stored.input ?? null, account: (stored as { account?: string }).account ?? null })
      if (known !== undefined && known !== canonical({ workflow: req.workflow, input: req.input ?? null, account: req.account ?? null })) {
        throw new ProblemError(409, 'ARCFLOW_IDEMPOTENCY_CONFLICT', 'this idempotencyKey was used for a different request (another workflow, input or account)', 'body.idempotencyKey')
      }
    }
    return { runId: answer.id, created: answer.created, status: answer.status as RunInfo['status'] }
  }

  /** The run's end through `engine.result` (undefined when `signal` aborts first). */
  async waitEnd(runId: string, signal: AbortSignal): Promise<RunEnd | undefined> {
    try {
      await this.#engine.result(runId, { signal })
    } catch (error) {
      if (error instanceof AbortedError) return undefined
      if (error instanceof QueueError) throw notFound(`no run ${runId}`)
      // a failed or stopped run: its end is read below
    }
    const info = await this.#engine.getRun(runId)
    if (!info) throw notFound(`no run ${runId}`)
    return endOf(info)
  }

  /** Cancels the run wherever it is; answers its status right after. */
  async cancel(runId: string, policy: CancelPolicy | undefined): Promise<RunInfo['status']> {
    let outcome
    try {
      outcome = await this.#engine.cancel(runId, policy ? { policy } : {})
    } catch (error) {
      if (error instanceof QueueError) throw notFound(`no run ${runId}`)
      throw error
    }
    if (outcome.outcome === 'ended') throw new ProblemError(409, 'ARCFLOW_RUN_ENDED', `run ${runId} has ended (${outcome.status})`)
    return outcome.outcome === 'cancelled' ? 'cancelled' : 'running'
  }

  /** A stream of the run's events from the store's journal, read again on each committed batch. */
  async source(runId: string): Promise<Source> {
    const first = await this.#engine.getRun(runId)
    if (!first) throw notFound(`no run ${runId}`)
    return { runId, attach: (after, sub) => this.#follow(runId, first, after, sub) }
  }

  #follow(runId: string, first: RunInfo, after: number, sub: Subscriber): void {
    const hub = this.#hub
    let sent = after
    let reading = false
    let again = false
    let done = false
    const stop = (): void => {
      done = true
      clearInterval(timer)
      hub.off('written', onIds)
      hub.off('ended', onIds)
      hub.off('missed', read)
    }
    /** Sends what is new; false once the stream is over. */
    const deliver = (info: RunInfo): boolean => {
      const events = replayEvents(info, this.#workflows.get(info.workflow)?.taskList)
      for (; sent < events.length; sent++) if (!sub.event(sent + 1, events[sent]!)) return false
      if (!ENDED.has(info.status)) return true
      sub.end(endOf(info))
      return false
    }
    function read(): void {
      if (done) return
      if (reading) {
        again = true
        return
      }
      reading = true
      void engine.getRun(runId).then(
        (info) => {
          reading = false
          if (done) return
          if (!info || !deliver(info)) return stop()
          if (again) {
            again = false
            read()
          }
        },
        // the database restarting: the next notice or poll reads again
        () => (reading = false),
      )
    }
    const engine = this.#engine
    const onIds = (ids: string[] | '*'): void => {
      if (ids === '*' || ids.includes(runId)) read()
    }
    hub.on('written', onIds)
    hub.on('ended', onIds)
    hub.on('missed', read)
    const timer = setInterval(read, hub.notified ? SAFETY_POLL_MS : SQLITE_POLL_MS)
    timer.unref()
    if (!deliver(first)) return stop()
    // a batch committed between the first read and the listening above is found by this one
    read()
    // the subscriber going away ends the stream: its next event answers false
    this.#stops.set(sub, stop)
  }

  unsubscribe(sub: Subscriber): void {
    this.#stops.get(sub)?.()
    this.#stops.delete(sub)
  }
}

function endOf(info: RunInfo): RunEnd {
  if (!ENDED.has(info.status)) return { runId: info.id, status: info.status }
  const end: RunEnd = { runId: info.id, status: info.status }
  if (info.output !== undefined) end.output = info.output
  if (info.error !== undefined) end.error = publicError(info.error)
  return end
}
