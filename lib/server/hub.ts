/**
 * The runs the server streams: each live run's events in order with their
 * sequence numbers (1, 2, ...; a resumed run's go on after those the store
 * holds), its subscribers, and its end. Delivery is a synchronous call per
 * subscriber that never waits: a subscriber that cannot keep up says so
 * and is dropped (see `subscriber.ts`), the run goes on. Ended runs stay in
 * memory for a while (`recentRuns`) so that a client reconnecting just
 * after the end, or an engine without a store, still gets their events.
 */
import type { Engine, RunInfo } from '../engine/engine'
import type { RunEvent } from '../engine/events'
import type { Run } from '../engine/run'
import type { CancelPolicy } from '../engine/run-types'
import { SignalError } from '../errors'
import type { WorkflowDefinition } from '../workflow/model'
import { notFound, ProblemError, shuttingDown } from './problems'
import { executionsFromEvents } from '../engine/history'
import type { TaskRecord } from '../store/store'
import { isLive } from '../engine/statuses'
import { publicError } from './public'
import { replayEvents } from './replay'
import { canonical, endOf, type RunEnd } from './run-end'
import { QueuedRuns } from './queued'
import { Recent } from './recent'
import type { StartRequest } from './start-request'

/** The prefix of a run that was not resumed (shared, never changed). */
const NO_EVENTS: RunEvent[] = []
/** The start options of a request that gives none (shared: the engine only reads them). */
const NO_OPTIONS = Object.freeze({})

/** `onEnd`'s answer for a run that has not ended yet. */
export const WAITING = true

/** One client's view of one run. */
export interface Subscriber {
  /** false: the subscriber is gone (closed, or its buffer passed the cap) and is dropped. */
  event(seq: number, event: RunEvent): boolean
  end(end: RunEnd): void
}

interface Entry {
  runId: string
  workflow: string
  events: RunEvent[]
  /** Events before the first of `events` (held by the store: a resumed run). */
  offset: number
  /**
   * Those events, rebuilt from the store when the run was resumed: kept, not
   * rebuilt again later, so that ids 1..offset stay what they were then
   * (the store has moved on since: a later rebuild may order them otherwise).
   */
  prefix: RunEvent[]
  /** Made at the first subscriber, dropped at the end: most runs have none (an ended run kept for `recentRuns` holds less). */
  subs?: Set<Subscriber>
  end?: RunEnd
  /** Made at the first waiter, dropped at the end. */
  waiters?: Array<(end: RunEnd) => void>
  /** The run object of a run this hub started or resumed (what `cancel` acts on), until its end. */
  run?: Run
}

/** What `subscribe` replays from: memory, the store, or both. */
export interface Source {
  runId: string
  attach(after: number, sub: Subscriber): void
}

export interface Started {
  runId: string
  /** false: an earlier request with the same idempotency key started it. */
  created: boolean
  status: RunInfo['status']
}

export class RunHub {
  readonly #engine: Engine
  readonly #workflows: ReadonlyMap<string, WorkflowDefinition>
  readonly #live = new Map<string, Entry>()
  /** Ended runs, the `recentRuns` last at least, and those read again since (`recent.ts`). */
  readonly #recent: Recent<Entry>
  readonly #recentCap: number
  /** The stored events of runs about to be resumed (their `run.resumed` comes synchronously). */
  readonly #prefixes = new Map<string, RunEvent[]>()
  /** The start request (`workflow`, `input`, `account`) of runs started with an idempotency key, newest last. */
  readonly #fingerprints = new Map<string, string>()
  #closing = false
  /** In front of workers (`queue`): runs are enqueued, streamed from the store (`queued.ts`). */
  readonly #queued: QueuedRuns | undefined

  constructor(engine: Engine, workflows: ReadonlyMap<string, WorkflowDefinition>, recentRuns: number, queue?: string) {
    this.#engine = engine
    this.#workflows = workflows
    this.#recentCap = recentRuns
    this.#recent = new Recent(recentRuns)
    this.#queued = queue === undefined ? undefined : new QueuedRuns(engine, queue, workflows)
    engine.on('event', (event) => this.#onEvent(event))
  }

  get liveRuns(): number {
    return this.#live.size
  }

  /** Refuse new starts (503) from now on. */
  close(): void {
    this.#closing = true
    this.#queued?.close()
  }

  /** Every subscriber of every live run (for shutdown's final frames). */
  *subscribers(): Iterable<[Subscriber, string]> {
    for (const entry of this.#live.values()) if (entry.subs) for (const sub of entry.subs) yield [sub, entry.runId]
  }

  #onEvent(event: RunEvent): void {
    let entry = this.#live.get(event.runId)
    if (!entry) {
      if (event.type !== 'run.started' && event.type !== 'run.resumed') return // a run from before the server
      const prefix = this.#prefixes.get(event.runId) ?? NO_EVENTS
      this.#prefixes.delete(event.runId)
      entry = { runId: event.runId, workflow: event.workflow, events: [], offset: prefix.length, prefix }
      this.#live.set(event.runId, entry)
    }
    entry.events.push(event)
    const seq = entry.offset + entry.events.length
    if (entry.subs) for (const sub of entry.subs) if (!sub.event(seq, event)) entry.subs.delete(sub)
    const end = endOf(event)
    if (end) this.#ended(entry, end)
  }

  #ended(entry: Entry, end: RunEnd): void {
    entry.end = end
    this.#live.delete(entry.runId)
    entry.run = undefined
    this.#recent.set(entry.runId, entry)
    const { subs, waiters } = entry
    entry.subs = undefined
    entry.waiters = undefined
    if (subs) for (const sub of subs) sub.end(end)
    if (waiters) for (const wake of waiters) wake(end)
  }

  workflow(name: string): WorkflowDefinition {
    const wf = this.#workflows.get(name)
    if (!wf) throw notFound(`no workflow '${name}' (see GET /v1/workflows)`)
    return wf
  }

  /**
   * Starts a run, or answers the one an earlier start with the same
   * idempotency key made: the engine's rule (`engine.start`'s
   * `idempotencyKey`), so a key whose run failed, was cancelled or timed
   * out starts a new run, and one running in another process is a 409
   * (`RunExistsError`). A key reused for another workflow, input or
   * account is a 409 too.
   */
  start(req: StartRequest): Started | Promise<Started> {
    if (this.#closing) throw shuttingDown()
    const wf = this.workflow(req.workflow)
    if (this.#queued) return this.#queued.start(wf, req)
    const key = req.idempotencyKey
    // the options as the request gives them (no spread, and none made for a plain start: this is the hot path)
    let options: { idempotencyKey?: string; account?: string; durability?: StartRequest['durability'] } = NO_OPTIONS
    if (key !== undefined || req.account || req.durability) {
      options = {}
      if (key !== undefined) options.idempotencyKey = key
      if (req.account) options.account = req.account
      if (req.durability) options.durability = req.durability
    }
    // an absent input is null, as the store keeps it: the live `run.started` and the one rebuilt from the store agree
    const run = this.#engine.start(wf, req.input ?? null, options)
    if (key === undefined) {
      this.track(run)
      return { runId: run.id, created: true, status: run.status }
    }
    return this.#keyed(req, run)
  }

  async #keyed(req: StartRequest, run: Run): Promise<Started> {
    const fingerprint = canonical({ workflow: req.workflow, input: req.input ?? null, account: req.account ?? null })
    // a run the key found is one this hub holds, or an ended one (the engine answers only a succeeded one)
    const found = run.status === 'succeeded' || this.#live.get(run.id)?.run !== undefined || this.#recent.has(run.id)
    if (!found) {
      this.track(run)
      this.#fingerprints.set(run.id, fingerprint)
      if (this.#fingerprints.size > this.#recentCap + this.#live.size) this.#fingerprints.delete(this.#fingerprints.keys().next().value!)
      return { runId: run.id, created: true, status: run.status }
    }
    let known = this.#fingerprints.get(run.id)
    if (known === undefined) {
      const stored = await this.#engine.getRun(run.id)
      if (stored) known = canonical({ workflow: stored.workflow, input: stored.input ?? null, account: (stored as { account?: string }).account ?? null })
    }
    if (known !== undefined && known !== fingerprint) {
      throw new ProblemError(409, 'ARCFLOW_IDEMPOTENCY_CONFLICT', 'this idempotencyKey was used for a different request (another workflow, input or account)', 'body.idempotencyKey')
    }
    return { runId: run.id, created: false, status: run.status }
  }

  /**
   * The end of a run this hub holds in memory: its `RunEnd` once it has
   * ended (at once), else `WAITING`: `wake` is called at its end, or not
   * once `offEnd(runId, wake)` stops the wait. Undefined for a run this hub
   * does not hold (in front of workers, or a run from before this
   * process): ask `waitEnd`. A plain callback, no promise, signal or stop
   * function: a trivial run ends a few microtasks after its start, and this
   * is on every `wait` request and WebSocket start.
   */
  onEnd(runId: string, wake: (end: RunEnd) => void): RunEnd | typeof WAITING | undefined {
    if (this.#queued) return undefined
    const entry = this.#live.get(runId) ?? this.#recent.get(runId)
    if (!entry) return undefined
    if (entry.end) return entry.end
    ;(entry.waiters ??= []).push(wake)
    return WAITING
  }

  /** Stops a wait of `onEnd` (nothing when the run has ended meanwhile: its waiters are gone). */
  offEnd(runId: string, wake: (end: RunEnd) => void): void {
    const waiters = this.#live.get(runId)?.waiters
    const i = waiters?.indexOf(wake) ?? -1
    if (i >= 0) waiters!.splice(i, 1)
  }

  /** The run's end once it comes (undefined when `signal` aborts first); unknown runs are a 404. */
  async waitEnd(runId: string, signal: AbortSignal): Promise<RunEnd | undefined> {
    if (this.#queued) return this.#queued.waitEnd(runId, signal)
    let resolve!: (end: RunEnd | undefined) => void
    const done = new Promise<RunEnd | undefined>((r) => (resolve = r))
    const wake = (end: RunEnd): void => {
      signal.removeEventListener('abort', onAbort)
      resolve(end)
    }
    const onAbort = (): void => {
      this.offEnd(runId, wake)
      resolve(undefined)
    }
    const held = this.onEnd(runId, wake)
    if (held === WAITING) {
      signal.addEventListener('abort', onAbort, { once: true })
      return done
    }
    if (held) return held
    const info = await this.#engine.getRun(runId)
    if (!info) throw notFound(`no run ${runId}`)
    return isLive(info.status) ? undefined : storedEnd(info)
  }

  /** A run's status, output or error, its executions and journal (the engine: memory for a live run, else the store). */
  async info(runId: string): Promise<Record<string, unknown>> {
    const info = await this.#engine.getRun(runId)
    if (info) return runView(info)
    // an engine without a store: recently ended runs are still known here
    const entry = this.#recent.get(runId)
    if (!entry?.end) throw notFound(`no run ${runId}`)
    const { runId: id, ...end } = entry.end
    return { id, workflow: entry.workflow, ...end, live: false, tasks: executionsFromEvents(entry.events).map(publicTask), events: [] }
  }

  /** Where a subscription replays from; a 404 for a run neither live nor stored. */
  async source(runId: string): Promise<Source> {
    if (this.#queued) return this.#queued.source(runId)
    const held = this.#live.get(runId) ?? this.#recent.get(runId)
    if (held) return { runId, attach: (after, sub) => this.#attach(held, after, sub) }
    const info = await this.#engine.getRun(runId)
    // started or resumed meanwhile
    const entry = this.#live.get(runId) ?? this.#recent.get(runId)
    if (entry) return { runId, attach: (after, sub) => this.#attach(entry, after, sub) }
    if (!info) throw notFound(`no run ${runId}`)
    const events = this.#replay(info)
    return {
      runId,
      attach: (after, sub) => {
        for (let i = after; i < events.length; i++) if (!sub.event(i + 1, events[i]!)) return
        sub.end(isLive(info.status) ? { runId, status: info.status } : storedEnd(info))
      },
    }
  }

  #attach(entry: Entry, after: number, sub: Subscriber): void {
    for (let i = after; i < entry.offset; i++) if (!sub.event(i + 1, entry.prefix[i]!)) return
    for (let i = Math.max(0, after - entry.offset); i < entry.events.length; i++) if (!sub.event(entry.offset + i + 1, entry.events[i]!)) return
    if (entry.end) sub.end(entry.end)
    else (entry.subs ??= new Set()).add(sub)
  }

  /** A run's events rebuilt from the store, its workflow's task order known when served here. */
  #replay(info: RunInfo): RunEvent[] {
    return replayEvents(info, this.#workflows.get(info.workflow)?.taskList)
  }

  unsubscribe(runId: string, sub: Subscriber): void {
    this.#live.get(runId)?.subs?.delete(sub)
    this.#queued?.unsubscribe(sub)
  }

  /**
   * Cancels a live run this server started or resumed; answers its status
   * right after the call (`cancel_running` ends it at once, `allow_finish`
   * once in-flight work ends). A 404 for an unknown run, a 409 for one that
   * has ended or that runs elsewhere.
   */
  async cancel(runId: string, policy: CancelPolicy | undefined): Promise<RunInfo['status']> {
    if (this.#queued) return this.#queued.cancel(runId, policy)
    const run = this.#live.get(runId)?.run
    if (!run) {
      const known = this.#recent.get(runId)?.end ?? (await this.#engine.getRun(runId))
      if (!known) throw notFound(`no run ${runId}`)
      if (!isLive(known.status)) throw new ProblemError(409, 'ARCFLOW_RUN_ENDED', `run ${runId} has ended (${known.status})`)
      throw new ProblemError(409, 'ARCFLOW_NOT_LIVE', `run ${runId} is not running in this server`)
    }
    void run.cancel(policy ? { policy } : {})
    return run.status
  }

  /**
   * Sends signal `name` to a run (`engine.signal`: a live run here, or a
   * durable one no process holds, kept in the store for its resume). A 404
   * for an unknown run, a 409 for one that has ended.
   */
  async signal(runId: string, name: string, payload: unknown): Promise<void> {
    try {
      await this.#engine.signal(runId, name, payload)
    } catch (error) {
      if (!(error instanceof SignalError)) throw error
      // the engine says "unknown or ended" in one error: the store tells which
      const known = this.#recent.get(runId)?.end ?? (await this.#engine.getRun(runId))
      if (!known) throw notFound(`no run ${runId}`)
      if (known.status !== 'running' && known.status !== 'waiting') throw new ProblemError(409, 'ARCFLOW_RUN_ENDED', `run ${runId} has ended (${known.status})`)
      throw new ProblemError(409, error.code, error.message)
    }
  }

  track(run: Run): void {
    if (!isLive(run.status)) return
    // kept on its entry (made by its `run.started` or `run.resumed`, which come synchronously), dropped at its end (`#ended`)
    const entry = this.#live.get(run.id)
    if (entry) entry.run = run
  }

  /** Resumes every run a dead (or stopped) process left `running`: their events number on from the store's. */
  async resumeInterrupted(): Promise<number> {
    // in front of workers, a run left running is a worker's: its lease decides, not this server
    if (this.#queued) return 0
    let n = 0
    for (const record of await this.#engine.interruptedRuns()) {
      const info = await this.#engine.getRun(record.id)
      if (!info || !this.#workflows.has(record.workflow)) continue
      this.#prefixes.set(record.id, this.#replay(info))
      try {
        this.track(this.#engine.resume(record.id))
        n++
      } catch {
        this.#prefixes.delete(record.id)
      }
    }
    return n
  }
}

function storedEnd(info: RunInfo): RunEnd {
  const end: RunEnd = { runId: info.id, status: info.status }
  if (info.output !== undefined) end.output = info.output
  if (info.error !== undefined) end.error = publicError(info.error)
  return end
}

function publicTask(task: TaskRecord): TaskRecord {
  return task.error === undefined ? task : { ...task, error: publicError(task.error) }
}

function runView(info: RunInfo): Record<string, unknown> {
  return { ...info, error: publicError(info.error), tasks: info.tasks.map(publicTask) }
}
