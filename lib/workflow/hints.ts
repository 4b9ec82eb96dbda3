/**
 * A hint for every problem the loader reports: what the field it concerns
 * looks like when it is right, with an example. Problems that know better
 * (a misspelling's "did you mean") give their own.
 */
type Path = ReadonlyArray<string | number>

const HINTS: Record<string, string> = {
  name: 'e.g. name: nightly-report',
  description: 'a string',
  vars: 'e.g. vars: { region: eu, limit: "{{ input.limit }}" }',
  start: 'e.g. start: [fetch] (the tasks to run first)',
  step_limit: 'e.g. step_limit: 1000 (the most task executions a run may make, at most 1,000,000)',
  output: 'e.g. output: { total: "{{ tasks.sum.result }}" }',
  input: 'e.g. input: [url, limit] (required names), or a JSON Schema object',
  tasks: 'e.g. tasks: { fetch: { action: http.request, input: { url: "{{ input.url }}" } } }',
  action: 'the name of a registered action, e.g. action: http.request',
  with: 'e.g. with: { items: "{{ input.urls }}", concurrency: 8 }',
  items: 'a template that gives a list, e.g. items: "{{ input.urls }}", or a list',
  concurrency: 'e.g. concurrency: 8 (items in flight at most)',
  timeout: "e.g. timeout: 30s (or milliseconds, or '250ms', '2m', '1h')",
  retry: 'e.g. retry: { count: 3, delay: 100ms, backoff: exponential }',
  count: 'e.g. count: 3 (retries after the first attempt, 0 to 10000)',
  delay: 'e.g. delay: 100ms',
  max_delay: 'e.g. max_delay: 5s',
  backoff: 'one of constant, linear, exponential',
  jitter: 'a fraction from 0 to 1, e.g. jitter: 0.2',
  when: 'a condition, e.g. when: "{{ succeeded() and result().ok }}"',
  next: 'e.g. next: [{ when: "{{ succeeded() }}", do: report }, { when: "{{ failed() }}", do: fail }]',
  do: "task names to run next, or 'fail' / 'noop', e.g. do: [report, notify]",
  publish: 'e.g. publish: { total: "{{ result().count }}" }',
  join: "'all' (wait for every transition that leads here) or a number of arrivals",
  continue_on_error: 'true or false',
}

export function hintFor(path: Path): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const segment = path[i]
    if (typeof segment !== 'string') continue
    // a task's own entry: tasks.NAME
    if (i === 1 && path[0] === 'tasks') return 'e.g. fetch: { action: http.request, input: { url: "{{ input.url }}" } }'
    const hint = HINTS[segment]
    if (hint) return hint
  }
  return "a workflow is an object with 'name' and 'tasks', e.g. { name: hello, tasks: { greet: { action: core.echo } } }"
}
