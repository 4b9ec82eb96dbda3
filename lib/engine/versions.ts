/**
 * Workflow versions as the engine keeps them: each definition it loads or
 * runs is written to the store once (by name and content hash), and a
 * resume picks the definition the run started with (see `pickForResume`).
 */
import { ResumeError } from '../errors'
import type { DurableStore, StoredRun } from '../store/store'
import type { WorkflowDefinition } from '../workflow/model'
import { shortVersion } from '../workflow/version'

/** What `pickForResume` needs to know of the call. */
export interface ResumeChoice {
  /** The workflow the caller passed, else the one loaded under the run's workflow name. */
  loaded: WorkflowDefinition | undefined
  /** Run `loaded` even though it is not the run's version. */
  allowChangedDefinition: boolean
  /** Builds a workflow from a stored definition with the engine's actions (throws a WorkflowError). */
  build: (definition: string) => WorkflowDefinition
}

export class WorkflowVersions {
  readonly #store: DurableStore
  /** `name/version` of the versions queued on the store already: a definition loaded again crosses no more. */
  readonly #recorded = new Set<string>()
  /** Versions rebuilt from the store for resumes, by `name/version`. */
  readonly #rebuilt = new Map<string, WorkflowDefinition>()

  constructor(store: DurableStore) {
    this.#store = store
  }

  /** Queues `workflow`'s version on the store, once per version and engine (the store keeps one row per version). */
  record(workflow: WorkflowDefinition): void {
    const key = `${workflow.name}/${workflow.version}`
    if (this.#recorded.has(key)) return
    this.#store.recordWorkflow(workflow.name, workflow.version, workflow.definition)
    this.#recorded.add(key)
  }

  /** Forgets what was built with actions since replaced (`engine.action` again). */
  actionsChanged(): void {
    this.#rebuilt.clear()
  }

  /**
   * The workflow to resume `stored` with: the run's own version, whether
   * it is the one loaded or must be rebuilt from the store; the loaded one
   * when the run has no version (it predates versions) or the caller
   * allows a changed definition. Throws a ResumeError saying what changed
   * when the store lacks the run's version.
   */
  pickForResume(stored: StoredRun, choice: ResumeChoice): WorkflowDefinition {
    const { record } = stored
    const { loaded } = choice
    const own = record.version
    if (own === undefined || (loaded && (loaded.version === own || choice.allowChangedDefinition))) {
      if (!loaded) throw new ResumeError(`run ${record.id} is a run of workflow '${record.workflow}', which this engine has not loaded: load it first, or pass { workflow }`)
      return loaded
    }
    const key = `${record.workflow}/${own}`
    const rebuilt = this.#rebuilt.get(key)
    if (rebuilt) return rebuilt
    const definition = this.#store.workflowDefinitionSync(record.workflow, own)
    if (definition === undefined) throw new ResumeError(missingVersion(stored, loaded))
    let workflow: WorkflowDefinition
    try {
      workflow = choice.build(definition)
    } catch (error) {
      throw new ResumeError(
        `run ${record.id} runs version ${shortVersion(own)} of workflow '${record.workflow}', which cannot be built here: ${(error as Error).message}`,
        { cause: error },
      )
    }
    this.#rebuilt.set(key, workflow)
    this.#recorded.add(key)
    return workflow
  }
}

/** Why a run whose version the store lacks cannot be resumed with `loaded`, by task name. */
function missingVersion(stored: StoredRun, loaded: WorkflowDefinition | undefined): string {
  const { record } = stored
  const head = `run ${record.id} started with version ${shortVersion(record.version!)} of workflow '${record.workflow}', which the store does not have`
  if (!loaded) return `${head}, and this engine has not loaded the workflow: load it (or pass { workflow }) with { allowChangedDefinition: true } to resume it with that definition`
  // the old definition is gone: what the run did is all there is to compare with
  const ran = [...new Set(stored.tasks.map((t) => t.task))]
  const gone = ran.filter((name) => !loaded.tasks.has(name))
  const unrun = [...loaded.tasks.keys()].filter((name) => !ran.includes(name))
  const changes: string[] = []
  if (gone.length > 0) changes.push(`tasks the run ran that it lacks (removed or renamed): ${gone.join(', ')}`)
  if (unrun.length > 0 && gone.length > 0) changes.push(`its tasks the run never ran (new, renamed or not reached): ${unrun.join(', ')}`)
  const what = changes.length > 0 ? changes.join('; ') : 'the same task names, other settings'
  return (
    `${head}; the definition loaded is version ${shortVersion(loaded.version)} and differs (${what}). ` +
    'Pass { allowChangedDefinition: true } to resume with the loaded definition anyway: completed tasks it lacks are not run, tasks new to it may run'
  )
}
