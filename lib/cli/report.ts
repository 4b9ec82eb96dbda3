/**
 * `arcflow report`: one self-contained HTML page for a run (no CDN, no
 * network): a timeline of task attempts and items (a Gantt view) with
 * statuses and durations, retries and errors, and the run's and each
 * execution's input, output or error on demand (click a bar).
 */
import type { RunInfo } from '../engine/engine'
import type { TaskRecord } from '../store/store'
import { shortVersion } from '../workflow/version'

/** Item bars drawn per task activation; the rest are counted, not drawn. */
export const MAX_ITEM_BARS = 2_000
/** Rows of an item lane at most, and their height. */
const MAX_ITEM_ROWS = 32
const ITEM_ROW_PX = 7

interface Lane {
  label: string
  kind: 'task' | 'items'
  bars: number[] // indexes into the executions
  hidden: number
}

function lanes(tasks: TaskRecord[]): Lane[] {
  const byKey = new Map<string, Lane>()
  const out: Lane[] = []
  tasks.forEach((x, i) => {
    const activation = x.step > 1 ? `${x.task} (${x.step})` : x.task
    const kind = x.item === undefined ? 'task' : 'items'
    const key = `${kind}|${activation}`
    let lane = byKey.get(key)
    if (!lane) {
      lane = { label: kind === 'task' ? activation : `${activation} items`, kind, bars: [], hidden: 0 }
      byKey.set(key, lane)
      out.push(lane)
    }
    if (kind === 'items' && lane.bars.length >= MAX_ITEM_BARS) lane.hidden++
    else lane.bars.push(i)
  })
  // each task's item lane right under it, tasks in the order they first ran
  const base = (lane: Lane): string => lane.label.replace(/ items$/, '')
  const order = new Map<string, number>()
  for (const lane of out) if (!order.has(base(lane))) order.set(base(lane), order.size)
  return out.sort((a, b) => order.get(base(a))! - order.get(base(b))! || (a.kind === 'task' ? -1 : 1))
}

/** JSON for a `<script type="application/json">`: nothing in it can close the tag. */
function embed(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

/** The report's styles (the live page's too). */
export const REPORT_STYLE = `  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2433; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #5b6475; margin-bottom: 12px; }
  .chip { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #eef0f4; margin-right: 4px; }
  .status-badge { font-weight: 600; }
  #timeline { border: 1px solid #d8dce4; border-radius: 6px; padding: 8px 12px; }
  .axis { position: relative; height: 18px; margin-left: 180px; color: #8a92a3; font-size: 11px; }
  .axis span { position: absolute; transform: translateX(-50%); }
  .lane { display: flex; align-items: center; min-height: 22px; border-top: 1px solid #f0f2f5; }
  .lane.items { min-height: 14px; }
  .label { width: 180px; flex: none; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .lane.items .label { color: #8a92a3; font-size: 12px; padding-left: 12px; }
  .track { position: relative; flex: 1; height: 16px; }
  .lane.items .track { height: 8px; }
  .bar { position: absolute; top: 0; height: 16px; border-radius: 2px; cursor: pointer; min-width: 2px; }
  .bar:hover, .bar.selected { outline: 2px solid #1d2433; z-index: 1; }
  .succeeded { background: #3fb37f; } .failed { background: #e5484d; } .timed_out { background: #f76b15; }
  .retrying { background: #f5c542; } .running { background: #6e9ef5; } .cancelled { background: #a0a7b4; }
  .waiting { background: repeating-linear-gradient(45deg, #b9a6f5 0 4px, #8f74ef 4px 8px); }
  .chip.succeeded, .chip.failed, .chip.timed_out, .chip.retrying, .chip.running, .chip.cancelled, .chip.waiting { color: #fff; }
  .more { position: absolute; right: 0; font-size: 11px; color: #8a92a3; }
  #details { margin-top: 16px; border: 1px solid #d8dce4; border-radius: 6px; padding: 8px 12px; min-height: 40px; }
  pre { background: #f6f7f9; padding: 8px; overflow: auto; max-height: 320px; }
  details { margin: 6px 0; }
`

export const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * The timeline of a run's executions (axis and one lane per task, items
 * below their task) and its status counts: the report's drawing, also the
 * live page's (`arcflow/server`), styled by {@link REPORT_STYLE}. In a
 * `waiting` run everything still running is parked: those bars are drawn
 * as waits (striped, `waiting`), up to now.
 */
export function renderTimeline(tasks: TaskRecord[], startedAt?: number, endedAt?: number, runStatus?: string): { timeline: string; summary: string } {
  const shown = (x: TaskRecord): string => (runStatus === 'waiting' && x.status === 'running' ? 'waiting' : x.status)
  const times = tasks.flatMap((x) => [x.startedAt, x.endedAt]).filter((t): t is number => t !== undefined)
  const t0 = Math.min(startedAt ?? Infinity, ...times)
  const t1 = Math.max(endedAt ?? -Infinity, ...times, t0 + 1)
  const span = t1 - t0
  const pct = (t: number): string => (((t - t0) / span) * 100).toFixed(3)
  const rows = lanes(tasks).map((lane) => {
    // items that overlap in time go on rows of their own (the concurrency, as seen)
    const ends: number[] = []
    const bars = lane.bars.map((i) => {
      const x = tasks[i]!
      const start = x.startedAt ?? x.endedAt ?? t0
      const end = x.endedAt ?? t1
      let row = ends.findIndex((e) => e <= start)
      if (row < 0) row = ends.length < MAX_ITEM_ROWS ? ends.length : ends.indexOf(Math.min(...ends))
      ends[row] = end
      const width = Math.max(((end - start) / span) * 100, 0.15).toFixed(3)
      const title = `${x.task}${x.item !== undefined ? ` #${x.item}` : ''} attempt ${x.attempt}: ${shown(x)}, ${end - start} ms`
      const top = lane.kind === 'items' ? `;top:${row * ITEM_ROW_PX}px;height:${ITEM_ROW_PX - 1}px` : ''
      return `<div class="bar ${shown(x)}" data-i="${i}" style="left:${pct(start)}%;width:${width}%${top}" title="${escape(title)}"></div>`
    })
    const height = lane.kind === 'items' ? ` style="height:${Math.max(ends.length, 1) * ITEM_ROW_PX}px"` : ''
    const more = lane.hidden ? `<span class="more">+${lane.hidden} items not drawn</span>` : ''
    return `<div class="lane ${lane.kind}"><div class="label">${escape(lane.label)}</div><div class="track"${height}>${bars.join('')}${more}</div></div>`
  })
  const counts = new Map<string, number>()
  for (const x of tasks) counts.set(shown(x), (counts.get(shown(x)) ?? 0) + 1)
  const summary = [...counts].map(([status, n]) => `<span class="chip ${status}">${n} ${status}</span>`).join(' ')
  // the end labels are anchored inside the axis (centred, they would stick out of it and be cut)
  const anchor = (f: number): string => (f === 0 ? ';transform:none' : f === 1 ? ';transform:translateX(-100%)' : '')
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span style="left:${f * 100}%${anchor(f)}">${Math.round(f * span)} ms</span>`).join('')
  return { timeline: `<div class="axis">${ticks}</div>${rows.join('\n')}`, summary }
}

export function renderReport(info: RunInfo): string {
  const tasks = info.tasks
  // a waiting run's open waits are drawn up to now (not to the last thing that happened)
  const { timeline, summary } = renderTimeline(tasks, info.startedAt, info.endedAt ?? (info.status === 'waiting' ? Date.now() : undefined), info.status)
  const run = { id: info.id, workflow: info.workflow, version: info.version, status: info.status, input: info.input, output: info.output, error: info.error }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>arcflow run ${escape(info.id)}</title>
<style>
${REPORT_STYLE}</style>
</head>
<body>
<h1>${escape(info.workflow)} <span class="chip ${escape(info.status)} status-badge" id="run-status">${escape(info.status)}</span></h1>
<div class="meta">run <code id="run-id">${escape(info.id)}</code> · version <code id="run-version" title="${escape(info.version ?? '')}">${info.version ? escape(shortVersion(info.version)) : 'unrecorded'}</code> · started ${info.startedAt ? new Date(info.startedAt).toISOString() : '?'} · ${info.endedAt && info.startedAt ? `${info.endedAt - info.startedAt} ms` : 'not ended'} · ${tasks.length} executions</div>
<div class="meta">${summary}</div>
<details><summary>Run input</summary><pre id="run-input"></pre></details>
<details><summary>Run output or error</summary><pre id="run-output"></pre></details>
<div id="timeline">${timeline}</div>
<div id="details">Click a bar to see its execution.</div>
<details id="journal"><summary>Journal of events (${info.events.length})</summary><pre id="journal-events"></pre></details>
<script type="application/json" id="run-data">${embed(run)}</script>
<script type="application/json" id="executions">${embed(tasks)}</script>
<script type="application/json" id="events">${embed(info.events)}</script>
<script>
(() => {
  const run = JSON.parse(document.getElementById('run-data').textContent)
  const executions = JSON.parse(document.getElementById('executions').textContent)
  const events = JSON.parse(document.getElementById('events').textContent)
  const line = (e) => new Date(e.at).toISOString().slice(11, 23) + ' ' + (e.task ? e.task + (e.item !== undefined ? ' #' + e.item : '') + ' attempt ' + e.attempt + ': ' : '') + e.message + (e.data !== undefined ? ' ' + JSON.stringify(e.data) : '')
  document.getElementById('journal-events').textContent = events.map(line).join('\\n') || '(none)'

  const show = (value) => value === undefined ? '(none)' : JSON.stringify(value, null, 2)
  document.getElementById('run-input').textContent = show(run.input)
  document.getElementById('run-output').textContent = show(run.error ?? run.output)
  const details = document.getElementById('details')
  let selected
  document.getElementById('timeline').addEventListener('click', (event) => {
    const bar = event.target.closest('.bar')
    if (!bar) return
    selected?.classList.remove('selected')
    selected = bar
    bar.classList.add('selected')
    const x = executions[Number(bar.dataset.i)]
    const ms = x.startedAt !== undefined && x.endedAt !== undefined ? (x.endedAt - x.startedAt) + ' ms' : ''
    details.replaceChildren()
    const head = document.createElement('div')
    head.className = 'execution-title'
    head.textContent = x.task + (x.item !== undefined ? ' #' + x.item : '') + ' · step ' + x.step + ' · attempt ' + x.attempt + ' · ' + x.status + (ms ? ' · ' + ms : '')
    details.append(head)
    const logs = events.filter((e) => e.task === x.task && e.attempt === x.attempt && e.item === x.item)
    if (logs.length) {
      const pre = document.createElement('pre')
      pre.className = 'execution-logs'
      pre.textContent = logs.map(line).join('\\n')
      const label = document.createElement('div')
      label.textContent = 'logs'
      details.append(label, pre)
    }
    for (const [name, value] of [['input', x.input], [x.error !== undefined ? 'error' : 'result', x.error ?? x.result]]) {
      const label = document.createElement('div')
      label.textContent = name
      const pre = document.createElement('pre')
      pre.className = 'execution-' + name
      // an item's input is journaled with its row, as a task's is (absent: the task declares none)
      pre.textContent = show(value)
      details.append(label, pre)
    }
  })
})()
</script>
</body>
</html>
`
}
