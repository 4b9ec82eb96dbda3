/** `arcflow runs list` and `arcflow runs show`: history from the store. */
import type { RunFilter } from '../store/read'
import type { Engine, RunInfo } from '../engine/engine'
import type { RunRecord, TaskRecord } from '../store/store'

const time = (ms: number | undefined): string => (ms === undefined ? '' : new Date(ms).toISOString().replace('T', ' ').slice(0, 23))
const duration = (from: number | undefined, to: number | undefined): string => {
  if (from === undefined || to === undefined) return ''
  const ms = to - from
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`
}

/** Left-aligned columns. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

export function listRuns(records: RunRecord[]): string {
  if (records.length === 0) return 'no runs'
  return table(
    ['id', 'workflow', 'status', 'started', 'duration'],
    records.map((r) => [r.id, r.workflow, r.status, time(r.startedAt), duration(r.startedAt, r.endedAt)]),
  )
}

const brief = (value: unknown): string => {
  const text = JSON.stringify(value) ?? ''
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/** A value as indented JSON, its lines after the first aligned under the label column. */
const whole = (value: unknown): string => (JSON.stringify(value, null, 2) ?? '').split('\n').join(`\n${' '.repeat(10)}`)

function executionRows(tasks: TaskRecord[]): string[][] {
  return tasks.map((x) => [
    x.task,
    String(x.step),
    x.item === undefined ? '' : String(x.item),
    String(x.attempt),
    x.status,
    duration(x.startedAt, x.endedAt),
    x.error !== undefined ? brief((x.error as { message?: unknown }).message ?? x.error) : brief(x.result),
    brief(x.input),
  ])
}

export function showRun(info: RunInfo, maxRows = 200): string {
  const lines = [
    `run       ${info.id}`,
    `workflow  ${info.workflow}`,
    // the full hash: what a resume compares, and what the store keeps the definition under
    `version   ${info.version ?? '(not recorded: a run from before versions were kept)'}`,
    `status    ${info.status}${info.live ? ' (live)' : ''}`,
  ]
  if (info.startedAt !== undefined) lines.push(`started   ${time(info.startedAt)}`)
  if (info.endedAt !== undefined) lines.push(`ended     ${time(info.endedAt)} (${duration(info.startedAt, info.endedAt)})`)
  // the run's own values in full (the table's cells are cut to fit; --json has everything)
  if (info.input !== undefined) lines.push(`input     ${whole(info.input)}`)
  if (info.output !== undefined) lines.push(`output    ${whole(info.output)}`)
  if (info.error !== undefined) lines.push(`error     ${whole(info.error)}`)
  const rows = executionRows(info.tasks)
  lines.push('', table(['task', 'step', 'item', 'attempt', 'status', 'duration', 'result / error', 'input'], rows.slice(0, maxRows)))
  if (rows.length > maxRows) lines.push(`... and ${rows.length - maxRows} more executions (arcflow report ${info.id} shows them all)`)
  return lines.join('\n')
}

/** `arcflow runs list`'s text for `filter`, read from the engine's store. */
export async function runsList(engine: Engine, filter: { status?: string; limit?: number }): Promise<string> {
  // a status from the command line is checked by engine.runs (an InputError names the valid ones)
  return listRuns(await engine.runs(filter as RunFilter))
}
