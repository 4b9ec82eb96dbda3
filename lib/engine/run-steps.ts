/**
 * A run's steps: it follows the core's answers (start tasks, fail, or
 * complete), hands each task's completion back to the core, and waits for
 * the store (backpressure, `sync`) and for credit leases when told to. The
 * middle of `Run` (run.ts), over its state and end (run-lifecycle.ts).
 */
import { awaitCredit } from './credit-wait'
import { native } from '../binding'
import { fromNative } from '../errors'
import { encode } from '../values'
import { balanceOf, InsufficientBalanceError } from './metering'
import type { RunEvent } from './events'
import { toFailure } from './failure'
import { AnswerKind, completeOp, STATUS_CODE, takeAck, unit, type InputKind } from './protocol'
import { startTask } from './kinds'
import { answerFailure, type Completion, type EndedOutcome } from './run-answers'
import { RunLifecycle } from './run-lifecycle'
import type { Activation, TaskOutcome } from './task-host'

export abstract class RunSteps extends RunLifecycle {
  /** @internal An attempt's account could not cover its estimate: the attempt does not run, the run fails. */
  insufficientBalance(task: string, attempt: number, index: number, needed: number, known?: number): void {
    const meter = this.meter!
    const balance = known ?? balanceOf(meter, this.store?.native ?? null)
    const event = { type: 'billing.insufficient_balance', runId: this.id, time: Date.now(), task, attempt, account: meter.accountName, needed, balance } as RunEvent & { index?: number }
    if (index >= 0) event.index = index
    this.eventLog.push(event)
    const error = new InsufficientBalanceError(meter.accountName, needed, balance)
    // at once: nothing else of the run starts (a with-items task's pump stops on it)
    const failure = toFailure(error) // its fields too: the cause is rebuilt as an InsufficientBalanceError
    delete failure.stack // the engine's own frames, not the user's
    this.fail(failure, task, attempt)
  }

  /** @internal */
  waitForStore(seq: number, then: () => void): void {
    this.active++ // the run stays open while it waits
    void this.store!.committed(seq).then(() => {
      this.active--
      if (this.runStatus === 'running') then()
      this.maybeFinish()
    })
  }

  /** @internal A reservation waits for a lease (see `credit-wait.ts`): `then()` once reserved, `then(balance)` once refused; nothing if the run ended meanwhile. */
  waitForCredit(ticket: number, then: (balance?: number) => void): void {
    this.active++ // the run stays open while it waits
    awaitCredit(this.meter!.handle, this.handle, ticket, () => this.live(), (balance) => {
      this.active--
      if (this.runStatus === 'running') then(balance)
      this.maybeFinish()
    })
  }

  /** @internal A task activation ended: record it, follow its transitions. */
  taskDone(activation: Activation, outcome: TaskOutcome): void {
    this.active--
    this.waits?.activity()
    if (this.runStatus !== 'running') return // the run's end gave its reservations back
    if (outcome.status === 'cancelled') {
      // a charge its completion would have settled: not billed, given back
      if (activation.charge) native.meterRelease(this.handle, activation.charge[0])
      activation.charge = undefined
    } else this.#complete(activation, outcome)
    this.maybeFinish()
  }

  #activate(index: number, step: number, kind: InputKind, value: unknown): void {
    if (!this.accepting()) return
    this.steps++
    this.active++
    this.waits?.activity()
    startTask(this.workflow.taskList[index]!, this, this.actions[index]!, step, kind, value)
  }

  #complete(activation: Activation, outcome: EndedOutcome): void {
    const name = activation.name
    let payload: string
    if (outcome.status === 'succeeded') {
      try {
        // an attempt checked (and encoded) its own result; a with-items list is encoded here
        payload = outcome.payload ?? encode(outcome.result, `result of task '${name}'`)
      } catch (error) {
        // a result that cannot be workflow data fails the task
        outcome = { status: 'failed', error: toFailure(error), attempt: outcome.attempt }
        payload = JSON.stringify(outcome.error)
      }
    } else payload = JSON.stringify(outcome.error)
    const { attempt } = outcome
    let answer: unknown[]
    try {
      this.crossings++
      const follow = !this.stopping
      const op = completeOp(this.handle, activation.index, STATUS_CODE[outcome.status], follow, follow && this.active === 0)
      const charge = activation.charge
      activation.charge = undefined
      // the core settles the charge by the final status (a result that could not be kept is a failure)
      answer = JSON.parse(charge
        ? native.runComplete(op, payload, unit(activation.index, activation.step, attempt), charge[0], charge[1])
        : native.runComplete(op, payload, this.store ? unit(activation.index, activation.step, attempt) : undefined)) as unknown[]
    } catch (error) {
      const failure = toFailure(fromNative(error))
      return this.fail({ name: 'TransitionError', message: failure.message, cause: failure }, name, attempt)
    }
    if (!this.store) return this.#completed(name, attempt, outcome, answer) // no closure on the in-memory path
    this.#acknowledged(answer, () => this.#completed(name, attempt, outcome, answer))
  }

  /** A completion is acknowledged: its event, then what it leads to. */
  #completed(task: string, attempt: number, outcome: EndedOutcome, answer: unknown[]): void {
    if (outcome.status === 'succeeded') {
      this.eventLog.push({ type: 'task.succeeded', runId: this.id, time: Date.now(), task, attempt, result: outcome.result })
    } else {
      this.pushEvent(outcome.status === 'timed_out'
        ? { type: 'task.timed_out', task, attempt }
        : { type: 'task.failed', task, attempt, error: outcome.error })
    }
    if (!this.stopping || this.ending) this.follow(answer, { task, attempt, outcome })
  }

  /**
   * Runs `act` once the store acknowledges the writes behind `answer`: at
   * once in memory and for `batched` runs, after the commit for `sync`
   * runs or when the store's queue is full (backpressure: the run waits).
   */
  #acknowledged(answer: unknown[], act: () => void): void {
    if (!this.store) return act()
    const { full, seq } = takeAck(answer)
    if (answer[0] === AnswerKind.Complete || answer[0] === AnswerKind.OutputError || answer[0] === AnswerKind.JoinError) this.ending = answer
    if (!this.sync && !full) return act()
    this.waitForStore(seq, act)
  }

  /** @internal Acts on the core's answer: start tasks, fail (see run-answers.ts), or complete the run. */
  protected override follow(answer: unknown[], from: Completion | undefined): void {
    const kind = answer[0]
    if (kind === AnswerKind.Schedule) {
      for (let i = 1; i < answer.length; i += 4) this.#activate(answer[i] as number, answer[i + 1] as number, answer[i + 2] as InputKind, answer[i + 3])
      return
    }
    // the core released the run with these answers
    if (kind === AnswerKind.Complete || kind === AnswerKind.OutputError || kind === AnswerKind.JoinError) this.released = true
    if (kind === AnswerKind.Complete) return this.succeed(answer[1])
    const ended = answerFailure(answer, from, this.workflow.taskList)
    if (!ended) return
    if (ended.blocked && this.runStatus === 'running') this.pushEvent(ended.blocked)
    this.fail(ended.failure, ended.task, ended.attempt)
  }

  /** @internal Nothing in flight: the run is cancelled if stopping, else the core renders its output. */
  protected override maybeFinish(): void {
    if (this.runStatus !== 'running' || this.active > 0) return
    if (this.stopping) return this.finish('cancelled')
    let answer: unknown[]
    try {
      this.crossings++
      answer = JSON.parse(native.runFinish(this.handle)) as unknown[]
    } catch (error) {
      const failure = toFailure(fromNative(error))
      return this.fail({ name: 'OutputError', message: failure.message, cause: failure })
    }
    this.#acknowledged(answer, () => this.follow(answer, undefined))
  }
}
