/**
 * `arcflow graph`: a workflow as a Mermaid flowchart or a Graphviz digraph:
 * tasks (with-items tasks marked, with their action, join, retries and
 * timeout), transitions labelled with their conditions, `fail` as a node of
 * its own.
 */
import type { TaskDefinition, WorkflowDefinition } from '../workflow/model'

export type GraphFormat = 'mermaid' | 'dot'

interface Edge {
  from: string
  to: string
  label: string
}

function edges(workflow: WorkflowDefinition): Edge[] {
  const out: Edge[] = []
  for (const task of workflow.taskList) {
    for (const transition of task.next) {
      const label = transition.when ? transition.when.source.replace(/^\{\{\s*|\s*\}\}$/g, '') : ''
      for (const target of transition.do) if (target !== 'noop') out.push({ from: task.name, to: target, label })
    }
  }
  return out
}

/** What the task does: its action, or what it waits for. */
function kindLine(task: TaskDefinition): string {
  if (task.kind === 'wait') {
    return `wait for signal ${task.wait!.signal}${task.wait?.timeoutMs !== undefined ? `, timeout ${task.wait.timeoutMs} ms` : ''}`
  }
  if (task.kind === 'sleep') return task.sleep?.ms !== undefined ? `sleep ${task.sleep.ms} ms` : `sleep until ${String(task.sleep?.until)}`
  return task.action
}

/** A task's box: name, action, then what shapes its runs (items, join, retries, timeout). */
function taskLines(task: TaskDefinition): string[] {
  const lines = [task.name, kindLine(task)]
  if (task.with) lines.push(`with items, concurrency ${task.with.concurrency}`)
  if (task.join !== undefined) lines.push(`join: ${task.join === 'all' ? 'all' : `${task.join} of its inbound`}`)
  if (task.retry) lines.push(`retry ×${task.retry.count}, ${task.retry.backoff} from ${task.retry.delayMs} ms`)
  if (task.timeoutMs !== undefined) lines.push(`timeout ${task.timeoutMs} ms`)
  return lines
}

const mermaidText = (text: string): string => text.replace(/"/g, '#quot;')
const dotText = (text: string): string => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')
/** Mermaid ids must be plain: task names may hold dashes and dots. */
const mermaidId = (name: string): string => `t_${name.replace(/[^A-Za-z0-9_]/g, (c) => `_${c.charCodeAt(0)}_`)}`

export function renderGraph(workflow: WorkflowDefinition, format: GraphFormat): string {
  const all = edges(workflow)
  const failing = all.some((e) => e.to === 'fail')
  if (format === 'mermaid') {
    const lines = ['flowchart TD', `  start(((start)))`]
    for (const task of workflow.taskList) {
      const label = taskLines(task).join('<br/>')
      // with-items tasks as subroutine boxes
      lines.push(task.with ? `  ${mermaidId(task.name)}[["${mermaidText(label)}"]]` : `  ${mermaidId(task.name)}["${mermaidText(label)}"]`)
    }
    if (failing) lines.push('  fail((fail))')
    for (const name of workflow.start) lines.push(`  start --> ${mermaidId(name)}`)
    for (const e of all) {
      const to = e.to === 'fail' ? 'fail' : mermaidId(e.to)
      lines.push(e.label ? `  ${mermaidId(e.from)} -->|"${mermaidText(e.label)}"| ${to}` : `  ${mermaidId(e.from)} --> ${to}`)
    }
    return `${lines.join('\n')}\n`
  }
  const lines = [`digraph "${dotText(workflow.name)}" {`, '  rankdir=TB;', '  node [shape=box, fontname="Helvetica"];', '  "(start)" [shape=circle, label="start"];']
  for (const task of workflow.taskList) {
    const parts = taskLines(task)
    lines.push(`  "${dotText(task.name)}" [label="${parts.map(dotText).join('\\n')}"${task.with ? ', peripheries=2' : ''}];`)
  }
  if (failing) lines.push('  "(fail)" [shape=doublecircle, label="fail", color=red];')
  for (const name of workflow.start) lines.push(`  "(start)" -> "${dotText(name)}";`)
  for (const e of all) {
    const to = e.to === 'fail' ? '(fail)' : e.to
    lines.push(`  "${dotText(e.from)}" -> "${dotText(to)}"${e.label ? ` [label="${dotText(e.label)}"]` : ''};`)
  }
  lines.push('}')
  return `${lines.join('\n')}\n`
}
