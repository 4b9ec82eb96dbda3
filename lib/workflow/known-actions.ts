/**
 * Whether a task's action is known, with a did-you-mean: registered
 * actions (`engine.workflow`, `arcflow validate --actions`) are the whole
 * list; without them, only the built-ins' namespaces (`core.`, `http.`,
 * `shell.`) are checked, since other names may be registered later.
 */
import { didYouMean } from './suggest'

export interface ActionKnowledge {
  /** Every action that exists; undefined: not known. */
  actions?: string[]
  /** Built-in names: without `actions`, a name in their namespaces must be one of them. */
  builtins?: readonly string[]
}

const namespace = (name: string): string | undefined => (name.includes('.') ? name.slice(0, name.indexOf('.')) : undefined)

/**
 * The problem with `action`, or undefined when it is fine.
 *
 * @example
 * unknownAction('http.gte', { builtins: ['http.request'] }) // { message: "action 'http.gte' ...", hint: "did you mean 'http.request'?" }
 */
export function unknownAction(action: string, known: ActionKnowledge): { message: string; hint: string } | undefined {
  let candidates: readonly string[]
  if (known.actions) {
    if (known.actions.includes(action)) return undefined
    candidates = known.actions
  } else {
    const space = namespace(action)
    const builtins = (known.builtins ?? []).filter((name) => namespace(name) === space)
    if (space === undefined || builtins.length === 0 || builtins.includes(action)) return undefined
    candidates = builtins
  }
  // a misspelt name inside a namespace may be far from its target by edit distance (http.gte): offer the namespace's one action
  const same = candidates.filter((name) => namespace(name) !== undefined && namespace(name) === namespace(action))
  const hint = didYouMean(action, candidates)
    ?? (same.length === 1 ? `did you mean '${same[0]}'?` : same.length > 1 ? `the ${namespace(action)} actions are: ${same.join(', ')}` : undefined)
    ?? 'register it with engine.action(name, fn), or pass arcflow --actions MODULE'
  return { message: known.actions ? `action '${action}' is not registered` : `action '${action}' is not a built-in action`, hint }
}
