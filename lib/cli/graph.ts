/**
 * `arcflow graph`: a workflow as a Mermaid flowchart or a Graphviz digraph:
 * tasks (with-items tasks marked, with their action), transitions labelled
 * with their conditions, `fail` as a node of its own.
 */
import type { WorkflowDefinition } from '../workflow/model'

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
      const label = task.with ? `${task.name}<br/>${task.action}<br/>with items, concurrency ${task.with.concurrency}` : `${task.name}<br/>${task.action}`
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
    const parts = task.with ? [task.name, task.action, `with items, concurrency ${task.with.concurrency}`] : [task.name, task.action]
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
