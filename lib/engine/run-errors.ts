/** How a run that did not succeed says so: `run.result()` rejects with one of these. */
import { ArcflowError, registerErrorCode } from '../errors'
import { toError, type Failure } from './failure'

/** The run failed (code `ARCFLOW_RUN_FAILED`): which task, which attempt, and the cause chain. */
export class RunFailedError extends ArcflowError {
  readonly runId: string
  readonly task?: string
  readonly attempt?: number
  readonly failure: Failure
  constructor(runId: string, failure: Failure, task?: string, attempt?: number) {
    const where = task ? ` in task '${task}'${attempt ? ` (attempt ${attempt})` : ''}` : ''
    super('ARCFLOW_RUN_FAILED', `run ${runId} failed${where}: ${failure.name}: ${failure.message}`, { cause: toError(failure) })
    this.runId = runId
    this.failure = failure
    if (task !== undefined) this.task = task
    if (attempt !== undefined) this.attempt = attempt
  }
}

/** The run was cancelled (`ARCFLOW_RUN_CANCELLED`) or timed out (`ARCFLOW_RUN_TIMED_OUT`). */
export class RunStoppedError extends ArcflowError {
  readonly runId: string
  constructor(runId: string, status: 'cancelled' | 'timed_out') {
    super(status === 'cancelled' ? 'ARCFLOW_RUN_CANCELLED' : 'ARCFLOW_RUN_TIMED_OUT', `run ${runId} ${status === 'cancelled' ? 'was cancelled' : 'timed out'}`)
    this.runId = runId
  }
}

registerErrorCode('ARCFLOW_RUN_FAILED', RunFailedError)
registerErrorCode('ARCFLOW_RUN_CANCELLED', RunStoppedError)
registerErrorCode('ARCFLOW_RUN_TIMED_OUT', RunStoppedError)
