/**
 * Load-time checks of what templates read by name: every `tasks.NAME` and
 * `task('NAME')` must name a task of the workflow, every `vars.NAME` a
 * variable that `vars:` declares or a transition publishes. A misspelling
 * is a load problem with a did-you-mean hint, not a `null` at run time.
 * The names come from the core (`Template.references`, which documents how
 * `task('NAME')` calls are found).
 */
import type { JsonTemplate, Template, TemplateReferences } from '../template'
import { didYouMean } from './suggest'

type Path = ReadonlyArray<string | number>

/** A compiled template and where it sits in the definition. */
export interface CompiledAt {
  path: Path
  template: Template | JsonTemplate
}

type Add = (path: Path, message: string, hint?: string) => void

/** Reports each name a template reads that the workflow does not have. */
export function checkReferences(add: Add, compiled: readonly CompiledAt[], tasks: readonly string[], vars: ReadonlySet<string>): void {
  const varList = [...vars]
  for (const { path, template } of compiled) {
    const found: TemplateReferences[] = 'kind' in template ? [template.references()] : template.references()
    for (const refs of found) {
      const at = [...path, ...segments(refs.path)]
      for (const name of refs.tasks) {
        if (!tasks.includes(name)) add(at, `the template reads task '${name}', which the workflow does not have`, didYouMean(name, [...tasks]) ?? `its tasks are ${tasks.join(', ')}`)
      }
      for (const name of refs.vars) {
        if (!vars.has(name)) {
          add(at, `the template reads variable '${name}', which nothing sets`, didYouMean(name, varList) ?? "declare it under 'vars:' or publish it from a transition")
        }
      }
    }
  }
}

/** `headers.auth` -> `['headers', 'auth']`, `items[2].url` -> `['items', 2, 'url']`. */
function segments(path: string): Array<string | number> {
  const out: Array<string | number> = []
  for (const part of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) out.push(part.startsWith('[') ? Number(part.slice(1, -1)) : part)
  return out
}
