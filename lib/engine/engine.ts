/**
 * The engine: registers actions, loads workflows, starts runs, and sees
 * every run's events. In memory: nothing is persisted yet.
 */
import { randomUUID } from 'node:crypto'

import { ArcflowError } from '../errors'
import { loadWorkflow, loadWorkflowFile } from '../workflow/load'
import { inputProblems } from '../workflow/input'
import type { WorkflowDefinition } from '../workflow/model'
import type { Action } from './attempt'
import type { RunEvent } from './events'
import { Run } from './run'

export interface StartOptions {
  /** Cancels the run when aborted (policy `cancel_running`). */
  signal?: AbortSignal
  /** Default: a random UUID. */
  runId?: string
  /** Run-level timeout in milliseconds: the run ends `timed_out`. */
  timeout?: number
}

/** Bad input for a run (code `ARCFLOW_INPUT`). */
export class InputError extends ArcflowError {
  /** Each problem with its path, e.g. `input.urls: must be array`. */
  readonly problems: string[]
  constructor(message: string, problems: string[] = []) {
    super('ARCFLOW_INPUT', message)
    this.problems = problems
  }
}

/**
 * @example
 * const engine = new Engine()
 * engine.action('greet', async ({ name }) => `hello ${name}`)
 * const wf = engine.workflow({ name: 'hi', tasks: { greet: { action: 'greet', input: { name: '{{ input.name }}' } } }, output: '{{ tasks.greet.result }}' })
 * await engine.run(wf, { name: 'Ada' }) // 'hello Ada'
 */
export class Engine {
  readonly #actions = new Map<string, Action>()
  readonly #listeners: Array<(event: RunEvent) => void> = []
  readonly #runs = new Set<Run>()
  /** Each workflow's actions by task index, resolved once (until an action is registered again). */
  #resolved = new WeakMap<WorkflowDefinition, Action[]>()
  readonly #onEnd = (run: Run): void => void this.#runs.delete(run)
  #closed = false

  /** Registers an action (an async function of the task's rendered input). */
  action(name: string, fn: Action): this {
    if (typeof name !== 'string' || name === '') throw new TypeError('action name must be a non-empty string')
    if (typeof fn !== 'function') throw new TypeError(`action '${name}' must be a function`)
    this.#actions.set(name, fn)
    this.#resolved = new WeakMap()
    return this
  }

  /** Loads a workflow from a definition object or YAML/JSON text; checks its actions are registered. */
  workflow(definition: unknown): WorkflowDefinition {
    return loadWorkflow(definition, { actions: this.#actions.keys() })
  }

  /** Loads a workflow file (`.yaml`, `.yml`, `.json`). */
  load(file: string): WorkflowDefinition {
    return loadWorkflowFile(file, { actions: this.#actions.keys() })
  }

  /** Sees every run's events. */
  on(type: 'event', listener: (event: RunEvent) => void): this {
    if (type !== 'event') throw new TypeError(`unknown engine event '${String(type)}': only 'event'`)
    this.#listeners.push(listener)
    return this
  }

  start(workflow: WorkflowDefinition, input?: unknown, options: StartOptions = {}): Run {
    if (this.#closed) throw new ArcflowError('ARCFLOW_ENGINE_CLOSED', 'the engine is closed')
    let actions = this.#resolved.get(workflow)
    if (!actions) {
      actions = workflow.taskList.map((task) => {
        const action = this.#actions.get(task.action)
        if (!action) throw new InputError(`task '${task.name}' uses action '${task.action}', which is not registered`)
        return action
      })
      this.#resolved.set(workflow, actions)
    }
    const problems = inputProblems(workflow.input, input)
    if (problems.length > 0) {
      throw new InputError(`workflow '${workflow.name}' needs different input:\n${problems.map((p) => `  ${p}`).join('\n')}`, problems)
    }
    if (options.timeout !== undefined && !(options.timeout >= 0)) throw new TypeError('timeout must be a non-negative number of milliseconds')
    const run = new Run(workflow, input, {
      runId: options.runId ?? randomUUID(),
      actions,
      listeners: this.#listeners,
      onEnd: this.#onEnd,
      signal: options.signal,
      timeoutMs: options.timeout,
    })
    if (run.status === 'running') this.#runs.add(run)
    return run
  }

  /** Starts a run and waits for its output. */
  run(workflow: WorkflowDefinition, input?: unknown, options?: StartOptions): Promise<unknown> {
    return this.start(workflow, input, options).result()
  }

  /** Cancels every live run and waits for them to end. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#runs].map((run) => run.cancel()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
