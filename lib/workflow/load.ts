/**
 * Loading a workflow: read (YAML, JSON or an object), validate everything,
 * compile every template, and report every problem at once with its path,
 * its line and column in the source, and a hint.
 */
import { readFileSync } from 'node:fs'

import { WorkflowError, type WorkflowProblem } from '../errors'
import type { WorkflowDefinition } from './model'
import { readSource } from './source'
import { validate, type Path, type ValidateOptions } from './validate'

export interface LoadOptions extends ValidateOptions {
  /** File name used in problem locations. */
  file?: string
}

/** `tasks.fetch.next[0].do`; keys that are not plain names are quoted. */
export function formatPath(path: Path): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

/** `file:line:column: path: message (hint)`. */
export function describeProblem(problem: WorkflowProblem): string {
  const where = problem.line !== undefined ? `${problem.file ?? '<workflow>'}:${problem.line}:${problem.column}: ` : ''
  const path = problem.path === '' ? '' : `${problem.path}: `
  return `${where}${path}${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`
}

/**
 * Loads a workflow from YAML or JSON text, or a definition object.
 * Throws a {@link WorkflowError} listing every problem.
 *
 * @example
 * const wf = loadWorkflow('name: hello\ntasks:\n  greet: { action: core.echo, input: { text: "hi" } }\n')
 */
export function loadWorkflow(definition: unknown, options: LoadOptions = {}): WorkflowDefinition {
  const source = readSource(definition)
  const problems: WorkflowProblem[] = source.syntaxProblems.map((p) => ({
    path: '',
    message: p.message,
    ...(p.position ?? {}),
    ...(options.file ? { file: options.file } : {}),
  }))
  let workflow: WorkflowDefinition | undefined
  if (problems.length === 0) {
    const result = validate(source.value, options)
    workflow = result.workflow
    for (const p of result.problems) {
      const problem: WorkflowProblem = { path: formatPath(p.path), message: p.message }
      if (p.hint) problem.hint = p.hint
      const position = source.positionOf(p.path, p.atKey)
      if (position) Object.assign(problem, position)
      if (options.file) problem.file = options.file
      problems.push(problem)
    }
  }
  if (problems.length > 0 || !workflow) {
    const name = typeof (source.value as { name?: unknown })?.name === 'string' ? ` '${(source.value as { name: string }).name}'` : ''
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
    throw new WorkflowError(`workflow${name} is invalid (${count}):\n${problems.map((p) => `  ${describeProblem(p)}`).join('\n')}`, problems)
  }
  return workflow
}

/** Reads and loads a workflow file (`.yaml`, `.yml` or `.json`). */
export function loadWorkflowFile(file: string, options: ValidateOptions = {}): WorkflowDefinition {
  return loadWorkflow(readFileSync(file, 'utf8'), { ...options, file })
}
