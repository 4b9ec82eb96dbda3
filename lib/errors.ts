/**
 * Errors thrown by arcflow. Each class has a stable `code`; native errors
 * arrive with that code and a JSON payload, and {@link fromNative} turns
 * them into these classes with a `cause` chain.
 */

/** Base class of every arcflow error. */
export class ArcflowError extends Error {
  /** Stable, machine-readable code, e.g. `ARCFLOW_EXPRESSION`. */
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** What went wrong in a template, by category. */
export type ExpressionErrorKind = 'syntax' | 'undefined' | 'type' | 'out_of_fuel' | 'limit' | 'render'

/**
 * A template failed to compile or to evaluate (code `ARCFLOW_EXPRESSION`).
 *
 * @example
 * try { ctx.render('{{ input.n + }}') } catch (e) {
 *   if (e instanceof ExpressionError) console.log(e.kind, e.line, e.column, e.template)
 * }
 */
export class ExpressionError extends ArcflowError {
  readonly kind: ExpressionErrorKind
  /** The template's full text. */
  readonly template: string
  /** Where the template sits in a structure (`headers.auth`), for `renderJson`. */
  readonly path?: string
  /** 1-based line of the problem, when known. */
  readonly line?: number
  /** 1-based column (in characters) of the problem, when known. */
  readonly column?: number
  /** Byte range of the problem in `template`, when known. */
  readonly range?: [number, number]
  /** The message without position and template. */
  readonly detail: string
  constructor(message: string, details: ExpressionErrorDetails, options?: { cause?: unknown }) {
    super('ARCFLOW_EXPRESSION', message, options)
    this.kind = details.kind
    this.template = details.template
    this.detail = details.detail
    if (details.path != null) this.path = details.path
    if (details.line != null) this.line = details.line
    if (details.column != null) this.column = details.column
    if (details.range != null) this.range = details.range
  }
}

export interface ExpressionErrorDetails {
  kind: ExpressionErrorKind
  template: string
  detail: string
  path?: string | null
  line?: number | null
  column?: number | null
  range?: [number, number] | null
}

/** A malformed path, a bad context document, a misuse of the context (code `ARCFLOW_CONTEXT`). */
export class ContextError extends ArcflowError {
  /** The path involved, when there is one. */
  readonly path?: string
  constructor(message: string, path?: string | null, options?: { cause?: unknown }) {
    super('ARCFLOW_CONTEXT', message, options)
    if (path != null) this.path = path
  }
}

/**
 * A value that cannot be workflow data (code `ARCFLOW_INVALID_VALUE`): a
 * BigInt, a cycle, nesting deeper than 100 levels.
 */
export class ValueError extends ArcflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ARCFLOW_INVALID_VALUE', message, options)
  }
}

/** One problem in a workflow definition. */
export interface WorkflowProblem {
  /** Where: `tasks.fetch.next[0].do`. */
  path: string
  message: string
  hint?: string
  /** Position in the YAML/JSON source, when the definition came from text. */
  line?: number
  column?: number
  file?: string
}

/**
 * A workflow definition is invalid (code `ARCFLOW_WORKFLOW_INVALID`). Lists
 * every problem at once; nothing has run.
 *
 * @example
 * try { loadWorkflow(text) } catch (e) {
 *   if (e instanceof WorkflowError) for (const p of e.problems) console.log(p.path, p.message, p.hint)
 * }
 */
export class WorkflowError extends ArcflowError {
  readonly problems: WorkflowProblem[]
  constructor(message: string, problems: WorkflowProblem[]) {
    super('ARCFLOW_WORKFLOW_INVALID', message)
    this.problems = problems
  }
}

/** The database failed (code `ARCFLOW_STORE`): opening it, its schema, or a read. Queued writes are retried, never dropped. */
export class StoreError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions, code = 'ARCFLOW_STORE') {
    super(code, message, options)
  }
}

/**
 * The SQLite file is held by another process (code `ARCFLOW_STORE_HELD`, a
 * {@link StoreError}): by default (`locking=exclusive`) one process at a
 * time opens a file; processes that share one each open it as
 * `sqlite:PATH?locking=shared`. Nothing was opened or written here.
 *
 * @example
 * try { new Engine({ store: 'sqlite:./arcflow.db' }) } catch (e) { if (e instanceof StoreHeldError) console.log(e.path) }
 */
export class StoreHeldError extends StoreError {
  /** The database file. */
  readonly path: string
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, options, 'ARCFLOW_STORE_HELD')
    this.path = path
  }
}

/**
 * A read was given up because its `signal` aborted (code `ARCFLOW_ABORTED`,
 * name `AbortError`, as DOM and Node APIs name theirs); `cause` is the
 * signal's reason. Nothing of the read stays behind.
 *
 * @example
 * try { await engine.runs({}, { signal: AbortSignal.timeout(100) }) } catch (e) { if (e instanceof AbortedError) ... }
 */
export class AbortedError extends ArcflowError {
  constructor(message = 'the read was aborted', options?: { cause?: unknown }) {
    super('ARCFLOW_ABORTED', message, options)
    this.name = 'AbortError'
  }
}

/**
 * A run cannot be resumed (code `ARCFLOW_RESUME`): unknown, already ended,
 * live in this engine, or its journal does not fit the workflow given.
 */
export class ResumeError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARCFLOW_RESUME', message, options)
  }
}

/**
 * A signal cannot be delivered (code `ARCFLOW_SIGNAL`): its run is
 * unknown, or has ended; or a wait's signal name did not render to a name.
 *
 * @example
 * try { await engine.signal(runId, 'approval', { ok: true }) } catch (e) { if (e instanceof SignalError) console.log(e.message) }
 */
export class SignalError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARCFLOW_SIGNAL', message, options)
  }
}

/**
 * A join can never fire (code `ARCFLOW_JOIN`): the run had nothing left to
 * run while `join` still waited (`arrived` of `needed` arrivals) for the
 * inbound tasks `waitingFor`. The run fails with it as the cause.
 *
 * @example
 * try { await run.result() } catch (e) { if (e.cause?.code === 'ARCFLOW_JOIN') console.log(e.cause.message) }
 */
export class JoinError extends ArcflowError {
  readonly join: string
  readonly waitingFor: string[]
  readonly arrived: number
  readonly needed: number
  constructor(message: string, details: { join: string; waitingFor: string[]; arrived: number; needed: number }, options?: ErrorOptions) {
    super('ARCFLOW_JOIN', message, options)
    this.join = details.join
    this.waitingFor = details.waitingFor
    this.arrived = details.arrived
    this.needed = details.needed
  }
}

/**
 * `start` with a `runId` that already names a run (code
 * `ARCFLOW_RUN_EXISTS`): live in this engine, or in its store. Nothing
 * was reserved or journaled for the refused start.
 *
 * @example
 * try { engine.start(wf, input, { runId: 'order-42' }) } catch (e) { if (e instanceof RunExistsError) console.log(e.runId) }
 */
export class RunExistsError extends ArcflowError {
  /** The run id that is taken. */
  readonly runId: string
  constructor(runId: string, where: string, options?: ErrorOptions) {
    super('ARCFLOW_RUN_EXISTS', `run id ${JSON.stringify(runId)} is taken: a run with it is ${where}; pick another id (or resume that run)`, options)
    this.runId = runId
  }
}

/**
 * A call on a run that has ended (code `ARCFLOW_RUN_ENDED`): its native
 * state is released, so its context can no longer be read or changed.
 */
export class RunEndedError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARCFLOW_RUN_ENDED', message, options)
  }
}

/**
 * A call on a closed engine, or on its closed store (code
 * `ARCFLOW_ENGINE_CLOSED`).
 *
 * @example
 * await engine.close()
 * try { engine.start(wf) } catch (e) { if (e instanceof EngineClosedError) console.log('closed') }
 */
export class EngineClosedError extends ArcflowError {
  constructor(message = 'the engine is closed', options?: ErrorOptions) {
    super('ARCFLOW_ENGINE_CLOSED', message, options)
  }
}

/** Bad input for a run (code `ARCFLOW_INPUT`): its input, options or a read's filter; nothing has run. */
export class InputError extends ArcflowError {
  /** Each problem with its path, e.g. `input.urls: must be array`. */
  readonly problems: string[]
  constructor(message: string, problems: string[] = []) {
    super('ARCFLOW_INPUT', message)
    this.problems = problems
  }
}

/**
 * An attempt was running when its process died (code `ARCFLOW_INTERRUPTED`):
 * after `engine.resume` it counts as failed and follows its task's retry policy.
 */
export class InterruptedError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARCFLOW_INTERRUPTED', message, options)
  }
}

/**
 * A worker no longer holds a run's lease (code `ARCFLOW_LEASE_LOST`):
 * another worker took the run over (its lease expired, by the database's
 * clock) or the run was released. It is the reason of the aborted
 * `AbortSignal` of that run's handlers here; nothing more is written for
 * the run by this worker.
 *
 * @example
 * engine.action('slow', async (_, { signal }) => { signal.addEventListener('abort', () => { if (signal.reason instanceof LeaseLostError) cleanUp() }) })
 */
export class LeaseLostError extends ArcflowError {
  readonly runId: string
  constructor(runId: string, message = `the lease of run ${runId} was lost: another worker holds it now`, options?: ErrorOptions) {
    super('ARCFLOW_LEASE_LOST', message, options)
    this.runId = runId
  }
}

/**
 * A queue operation failed on its arguments or on the run it names (code
 * `ARCFLOW_QUEUE`): a bad queue name or limit, cancel of an unknown run.
 */
export class QueueError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARCFLOW_QUEUE', message, options)
  }
}

/**
 * A worker claimed a run of a workflow it has not loaded (code
 * `ARCFLOW_UNKNOWN_WORKFLOW`): the run ends `failed` with this error
 * recorded on it; the worker goes on.
 */
export class UnknownWorkflowError extends ArcflowError {
  readonly workflow: string
  constructor(workflow: string, message = `no workflow named ${JSON.stringify(workflow)} is loaded in this worker: load it (engine.load / --workflows) before engine.work`, options?: ErrorOptions) {
    super('ARCFLOW_UNKNOWN_WORKFLOW', message, options)
    this.workflow = workflow
  }
}

/** A bug in arcflow, never caused by input (code `ARCFLOW_INTERNAL`). Please report it. */
export class InternalError extends ArcflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ARCFLOW_INTERNAL', message, options)
  }
}

/** No native binary could be loaded for this platform (code `ARCFLOW_NATIVE_BINDING`). */
export class NativeBindingError extends ArcflowError {
  /** The npm package that should have provided the binary. */
  readonly expectedPackage: string
  constructor(message: string, expectedPackage: string, options?: { cause?: unknown }) {
    super('ARCFLOW_NATIVE_BINDING', message, options)
    this.expectedPackage = expectedPackage
  }
}

interface NativePayload {
  message: string
  causes?: string[]
  kind?: ExpressionErrorKind
  detail?: string
  template?: string
  path?: string | null
  line?: number | null
  column?: number | null
  range?: [number, number] | null
  join?: string
  waitingFor?: string[]
  arrived?: number
  needed?: number
  runId?: string
}

/** The Rust `source()` chain, innermost last, as nested `cause`s. */
function causeChain(causes: string[] | undefined): Error | undefined {
  let cause: Error | undefined
  for (const message of [...(causes ?? [])].reverse()) cause = new Error(message, cause ? { cause } : undefined)
  return cause
}

/**
 * Turns an error thrown by the native binding into the matching arcflow
 * error class. Anything else is returned unchanged.
 */
export function fromNative(error: unknown): unknown {
  // already ours, e.g. a NativeBindingError from the binary's first (lazy) use
  if (!(error instanceof Error) || error instanceof ArcflowError) return error
  const code = (error as { code?: unknown }).code
  if (typeof code !== 'string' || !code.startsWith('ARCFLOW_')) return error
  let payload: NativePayload
  try {
    payload = JSON.parse(error.message) as NativePayload
  } catch {
    payload = { message: error.message }
  }
  return fromNativeData({ code, payload })
}

/** An error the core answered with as data (`{ code, payload }`) instead of throwing. */
export function fromNativeData({ code, payload }: { code: string; payload: NativePayload }): ArcflowError {
  const cause = causeChain(payload.causes)
  const options = cause ? { cause } : undefined
  switch (code) {
    case 'ARCFLOW_EXPRESSION':
      return new ExpressionError(
        payload.message,
        {
          kind: payload.kind ?? 'render',
          template: payload.template ?? '',
          detail: payload.detail ?? payload.message,
          path: payload.path,
          line: payload.line,
          column: payload.column,
          range: payload.range,
        },
        options,
      )
    case 'ARCFLOW_CONTEXT':
      return new ContextError(payload.message, payload.path, options)
    case 'ARCFLOW_INVALID_VALUE':
      return new ValueError(payload.message, options)
    case 'ARCFLOW_STORE':
      return new StoreError(payload.message, options)
    case 'ARCFLOW_STORE_HELD':
      return new StoreHeldError(payload.message, payload.path ?? '', options)
    case 'ARCFLOW_RESUME':
      return new ResumeError(payload.message, options)
    case 'ARCFLOW_SIGNAL':
      return new SignalError(payload.message, options)
    case 'ARCFLOW_JOIN':
      return new JoinError(payload.message, { join: payload.join ?? '', waitingFor: payload.waitingFor ?? [], arrived: payload.arrived ?? 0, needed: payload.needed ?? 0 }, options)
    case 'ARCFLOW_RUN_ENDED':
      return new RunEndedError(payload.message, options)
    case 'ARCFLOW_ENGINE_CLOSED':
      return new EngineClosedError(payload.message, options)
    case 'ARCFLOW_INTERNAL':
      return new InternalError(payload.message, options)
    case 'ARCFLOW_QUEUE':
      return new QueueError(payload.message, options)
    case 'ARCFLOW_LEASE_LOST':
      return new LeaseLostError(payload.runId ?? '', payload.message, options)
    default:
      return new ArcflowError(code, payload.message, options)
  }
}

/** An arcflow error class, whatever its constructor takes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ArcflowErrorClass = abstract new (...args: any[]) => ArcflowError

const classesByCode = new Map<string, ArcflowErrorClass>([
  ['ARCFLOW_EXPRESSION', ExpressionError],
  ['ARCFLOW_CONTEXT', ContextError],
  ['ARCFLOW_INVALID_VALUE', ValueError],
  ['ARCFLOW_WORKFLOW_INVALID', WorkflowError],
  ['ARCFLOW_STORE', StoreError],
  ['ARCFLOW_STORE_HELD', StoreHeldError],
  ['ARCFLOW_ABORTED', AbortedError],
  ['ARCFLOW_RESUME', ResumeError],
  ['ARCFLOW_SIGNAL', SignalError],
  ['ARCFLOW_JOIN', JoinError],
  ['ARCFLOW_RUN_EXISTS', RunExistsError],
  ['ARCFLOW_RUN_ENDED', RunEndedError],
  ['ARCFLOW_ENGINE_CLOSED', EngineClosedError],
  ['ARCFLOW_INPUT', InputError],
  ['ARCFLOW_INTERRUPTED', InterruptedError],
  ['ARCFLOW_INTERNAL', InternalError],
  ['ARCFLOW_LEASE_LOST', LeaseLostError],
  ['ARCFLOW_QUEUE', QueueError],
  ['ARCFLOW_UNKNOWN_WORKFLOW', UnknownWorkflowError],
  ['ARCFLOW_NATIVE_BINDING', NativeBindingError],
])

/**
 * @internal Declares the class of an error code defined outside this file
 * (metering, run errors), so that an error rebuilt from data (a failure
 * that crossed the core or the journal) is an instance of it again.
 *
 * @example
 * registerErrorCode('ARCFLOW_METERING', MeteringError)
 */
export function registerErrorCode(code: string, cls: ArcflowErrorClass): void {
  classesByCode.set(code, cls)
}

/**
 * The arcflow error class of a stable code, if there is one.
 *
 * @example
 * errorClassOf('ARCFLOW_STORE') === StoreError // true
 */
export function errorClassOf(code: string): ArcflowErrorClass | undefined {
  return classesByCode.get(code)
}

/**
 * The server's options are unusable (code `ARCFLOW_SERVER`): no token with
 * auth on, `auth: false` off loopback, a bad limit.
 */
export class ServerError extends ArcflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('ARCFLOW_SERVER', message, options)
  }
}
classesByCode.set('ARCFLOW_SERVER', ServerError)
