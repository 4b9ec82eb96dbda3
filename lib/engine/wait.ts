/**
 * A `wait` task: each activation (or each item of a with-items wait)
 * waits for one signal, whose name its input renders (`{ signal }`), and
 * ends with the signal's payload as its result; past its `timeout` it
 * times out (the `timed_out()` transition, or a retry). It is a `TaskRun`
 * whose attempts park instead of calling an action: a parked wait is one
 * object in the run's mailbox and, with a timeout, one entry in the shared
 * deadline heap; no promise, no handler, no timer of its own.
 */
import { native } from '../binding'
import { SignalError } from '../errors'
import type { Attempt } from './attempt'
import { addDeadline, removeDeadline, type Deadline } from './deadlines'
import type { RunEvent } from './events'
import type { Waiting } from './mailbox'
import { InputKind } from './protocol'
import { TaskRun } from './task'
import type { ResumedActivation } from './task-host'

/** One parked attempt: what `TaskRun.settled` reads of an attempt, plus its place in the mailbox and the heap. */
class Parked implements Waiting, Deadline {
  due = Infinity
  slot = -1
  reserved = -1
  charged: number | undefined = undefined
  constructor(
    readonly owner: TimedRun,
    readonly name: string,
    readonly attempt: number,
    readonly index: number | undefined,
    readonly startedAt: number,
  ) {}

  take(payload: unknown): void {
    this.owner.ended(this, 'succeeded', payload)
  }

  fire(): void {
    this.owner.expired(this)
  }
}

/**
 * What waits and sleeps share: an activation whose attempts park until a
 * signal or a due time, counted by their run as parked (its `waiting`
 * status), dropped when the task or the run ends first. A resume counts a
 * first attempt's due time from when the activation began (journaled),
 * not from the resume.
 */
export abstract class TimedRun extends TaskRun {
  #began: number | undefined
  #parked: Set<Parked> | undefined

  override start(kind: InputKind, value: unknown, resumed?: ResumedActivation): void {
    if (resumed?.interrupted) {
      // an interrupted wait goes on waiting (nothing ran): its first attempt again, from when it began
      this.#began = resumed.began ?? undefined
      resumed = { ...resumed, attempt: 0, interrupted: false }
    }
    super.start(kind, value, resumed)
  }

  /** When the parked attempt began: a resumed first attempt keeps its journaled start. */
  protected began(attempt: number): number {
    return attempt === 1 && this.#began !== undefined ? this.#began : Date.now()
  }

  protected park(parked: Parked, due: number | undefined): void {
    ;(this.#parked ??= new Set()).add(parked)
    if (due !== undefined) {
      parked.due = due
      addDeadline(parked)
    }
    this.host.park(parked)
  }

  protected parked(name: string, attempt: number, index: number, startedAt: number): Parked {
    return new Parked(this, name, attempt, index < 0 ? undefined : index, startedAt)
  }

  protected waitingEvent(attempt: number, index: number, fields: { signal?: string; until?: string }): void {
    const e = { type: 'task.waiting', runId: this.host.id, time: Date.now(), task: this.task.name, attempt, ...fields } as RunEvent & { index?: number }
    if (index >= 0) e.index = index
    this.host.emit(e)
  }

  /** @internal The parked attempt ends (`took`: a wait took a signal, journaled with the completion). */
  ended(parked: Parked, status: 'succeeded' | 'failed' | 'timed_out', value: unknown, took = status === 'succeeded' && parked.name !== ''): boolean {
    if (!this.#parked?.delete(parked)) return false
    removeDeadline(parked)
    this.host.unpark(parked)
    if (took && this.host.durable) {
      this.host.crossings++
      native.runSignalTaken(this.host.handle, parked.name)
    }
    this.settled(parked as unknown as Attempt, status, value)
    return true
  }

  /** @internal The parked attempt's due time came. */
  abstract expired(parked: Parked): void

  override finish(outcome: Parameters<TaskRun['finish']>[0]): void {
    super.finish(outcome)
    // an item that failed the task, or the task's end: what still waits stops
    if (this.#parked) for (const parked of [...this.#parked]) this.#drop(parked)
  }

  #drop(parked: Parked): void {
    this.#parked!.delete(parked)
    removeDeadline(parked)
    this.host.unpark(parked)
    this.host.mailbox.unpark(parked)
  }
}

export class WaitRun extends TimedRun {
  override begin(attempt: number, index: number, kind: InputKind, value: unknown): void {
    if (kind !== InputKind.Rendered) return super.begin(attempt, index, kind, value)
    const host = this.host
    const name = (value as { signal?: unknown } | null)?.signal
    const startedAt = this.began(attempt)
    if (typeof name !== 'string' || name === '') {
      const parked = this.parked('', attempt, index, startedAt)
      this.park(parked, undefined)
      const error = new SignalError(`task '${this.task.name}': 'signal' must render to a non-empty string, got ${JSON.stringify(name) ?? String(name)}`)
      return queueMicrotask(() => void this.ended(parked, 'failed', error))
    }
    const parked = this.parked(name, attempt, index, startedAt)
    const timeoutMs = this.task.wait!.timeoutMs
    this.park(parked, undefined)
    this.waitingEvent(attempt, index, { signal: name })
    // later, not inside the run's activation loop: a kept signal completes the wait at once
    queueMicrotask(() => {
      if (!host.live()) return
      const kept = host.mailbox.takeKept(name)
      if (kept.found) return void this.ended(parked, 'succeeded', kept.payload)
      host.mailbox.park(parked)
      if (timeoutMs !== undefined) {
        parked.due = startedAt + timeoutMs
        addDeadline(parked)
      }
    })
  }

  override expired(parked: Parked): void {
    this.host.mailbox.unpark(parked)
    const ms = this.task.wait!.timeoutMs
    this.ended(parked, 'timed_out', { name: 'TimeoutError', message: `task '${this.task.name}' waited ${ms} ms for signal '${parked.name}'` })
  }
}
