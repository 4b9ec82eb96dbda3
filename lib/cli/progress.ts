/**
 * How `arcflow run` shows a run: on a terminal, a live view redrawn in
 * place by log-update (one line per running task, a bar per with-items
 * task with done / total, rate and elapsed; retries and failures kept above
 * it as they happen); elsewhere one plain line per event; with `--json`,
 * NDJSON events and the output as the last line.
 */
import { styleText } from 'node:util'
import { createLogUpdate } from 'log-update'

import type { RunEvent } from '../engine/events'
import type { Failure } from '../engine/failure'

export type ProgressMode = 'tty' | 'plain' | 'json'

export interface Reporter {
  event(event: RunEvent): void
  /** The run ended: its output, or the error it ended with. */
  end(outcome: { runId: string; status: string; output?: unknown; error?: Error }): void
}

type Out = NodeJS.WritableStream & { isTTY?: boolean; columns?: number }

const seconds = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`)
const paint = (format: Parameters<typeof styleText>[0], text: string, color: boolean): string => (color ? styleText(format, text) : text)

/** What one plain line says about an event after its type and task. */
function detail(e: RunEvent): string {
  switch (e.type) {
    case 'run.started':
      return ` ${e.workflow}`
    case 'run.resumed':
      return ` ${e.workflow}${e.pending.length ? ` (again: ${e.pending.join(', ')})` : ''}`
    case 'run.failed':
      return `${e.task ? ` in ${e.task}` : ''}: ${e.error.name}: ${e.error.message}`
    case 'task.failed':
      return `: ${e.error.name}: ${e.error.message}`
    case 'task.retrying':
      return ` in ${Math.round(e.delayMs)} ms after ${e.error.name}: ${e.error.message}`
    case 'task.items':
      return ` ${e.count} items`
    case 'item.completed':
      return ` ${e.status}`
    case 'task.log':
      return ` ${e.message}`
    default:
      return ''
  }
}

export function plainLine(e: RunEvent): string {
  const task = 'task' in e ? ` ${e.task}` : ''
  const index = 'index' in e && e.index !== undefined ? ` #${e.index}` : ''
  const attempt = 'attempt' in e && e.attempt > 1 ? ` attempt ${e.attempt}` : ''
  return `${new Date(e.time).toISOString()} ${e.type}${task}${index}${attempt}${detail(e)}`
}

function endLines(outcome: Parameters<Reporter['end']>[0], elapsedMs: number, color: boolean): string[] {
  if (outcome.status === 'succeeded') {
    const lines = [paint('green', `✔ run ${outcome.runId} succeeded in ${seconds(elapsedMs)}`, color)]
    if (outcome.output !== undefined) lines.push(JSON.stringify(outcome.output, null, 2))
    return lines
  }
  const lines = [paint('red', `✘ run ${outcome.runId} ${outcome.status} after ${seconds(elapsedMs)}: ${outcome.error?.message ?? ''}`, color)]
  let cause = outcome.error?.cause as Error | undefined
  for (let depth = 0; cause && depth < 8; depth++, cause = cause.cause as Error | undefined) lines.push(`  caused by ${cause.name}: ${cause.message}`)
  return lines
}

/** NDJSON: every event, then (a successful run) `{ type: 'output', runId, output }` as the last line, tagged like the events. */
function jsonReporter(out: Out): Reporter {
  return {
    event: (e) => void out.write(`${JSON.stringify(e)}\n`),
    end: (outcome) => {
      if (outcome.status === 'succeeded') out.write(`${JSON.stringify({ type: 'output', runId: outcome.runId, output: outcome.output ?? null })}\n`)
    },
  }
}

function plainReporter(out: Out): Reporter {
  const started = Date.now()
  return {
    event: (e) => void out.write(`${plainLine(e)}\n`),
    end: (outcome) => void out.write(`${endLines(outcome, Date.now() - started, false).join('\n')}\n`),
  }
}

interface Running {
  task: string
  attempt: number
  since: number
  items?: { total: number; done: number; failed: number; since: number }
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

function bar(done: number, total: number, width: number): string {
  const filled = total === 0 ? width : Math.round((done / total) * width)
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
}

/** The live view: state from events, redrawn at most every 80 ms. */
function ttyReporter(out: Out): Reporter {
  // a terminal that reports no size (some pseudo-terminals) is taken as 80 × 24
  const terminal = out as NodeJS.WriteStream
  const sized = {
    isTTY: true,
    write: (chunk: string): boolean => terminal.write(chunk),
    get columns(): number {
      return terminal.columns || 80
    },
    get rows(): number {
      return terminal.rows || 24
    },
    on: (): void => {},
    off: (): void => {},
  }
  const update = createLogUpdate(sized as unknown as NodeJS.WriteStream, { showCursor: false })
  const running = new Map<string, Running>()
  const started = Date.now()
  let header = ''
  let frame = 0
  const render = (): void => {
    const now = Date.now()
    const spin = SPINNER[frame++ % SPINNER.length]!
    const lines = [`${styleText('bold', header)} ${styleText('dim', seconds(now - started))}`]
    for (const r of running.values()) {
      const attempt = r.attempt > 1 ? styleText('yellow', ` attempt ${r.attempt}`) : ''
      if (r.items) {
        const { total, done, failed } = r.items
        const elapsed = now - r.items.since
        const rate = elapsed > 0 ? Math.round((done / elapsed) * 1000) : 0
        const failures = failed ? styleText('red', ` ${failed} failed`) : ''
        lines.push(`  ${spin} ${r.task} ${bar(done, total, 24)} ${done}/${total} · ${rate}/s · ${seconds(elapsed)}${failures}${attempt}`)
      } else lines.push(`  ${spin} ${r.task}${attempt} ${styleText('dim', seconds(now - r.since))}`)
    }
    update(lines.join('\n'))
  }
  const timer = setInterval(render, 80)
  timer.unref()
  /** A line kept above the live view. */
  const keep = (line: string): void => {
    update.clear()
    out.write(`${line}\n`)
    render()
  }
  const failure = (f: Failure): string => `${f.name}: ${f.message}`
  return {
    event(e) {
      switch (e.type) {
        case 'run.started':
        case 'run.resumed':
          header = `arcflow ${e.type === 'run.resumed' ? 'resuming' : 'running'} ${e.workflow} · ${e.runId}`
          break
        case 'task.started':
          running.set(e.task, { task: e.task, attempt: e.attempt, since: e.time })
          break
        case 'task.items': {
          const r = running.get(e.task)
          if (r) r.items = { total: e.count, done: 0, failed: 0, since: e.time }
          break
        }
        case 'item.completed': {
          const items = running.get(e.task)?.items
          if (items) {
            items.done++
            if (e.status !== 'succeeded') items.failed++
          }
          break
        }
        case 'task.retrying':
          keep(styleText('yellow', `  ↻ ${e.task}${e.index !== undefined ? ` #${e.index}` : ''} attempt ${e.attempt} failed (${failure(e.error)}); retrying in ${seconds(e.delayMs)}`))
          if (e.index === undefined) {
            const r = running.get(e.task)
            if (r) r.attempt = e.attempt + 1
          }
          break
        case 'task.succeeded': {
          const r = running.get(e.task)
          running.delete(e.task)
          const items = r?.items ? ` ${r.items.done} items` : ''
          keep(`  ${styleText('green', '✔')} ${e.task}${items}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''} ${styleText('dim', seconds(e.time - (r?.since ?? e.time)))}`)
          break
        }
        case 'task.failed':
        case 'task.timed_out':
          running.delete(e.task)
          keep(styleText('red', `  ✘ ${e.task} ${e.type === 'task.timed_out' ? 'timed out' : `failed: ${failure(e.error)}`}`))
          break
        case 'task.log':
          keep(styleText('dim', `  · ${e.task}: ${e.message}`))
          break
      }
    },
    end(outcome) {
      clearInterval(timer)
      running.clear()
      update.clear()
      update.done()
      out.write(`${endLines(outcome, Date.now() - started, true).join('\n')}\n`)
    },
  }
}

/** The reporter for `mode` (see the module comment). */
export function createReporter(mode: ProgressMode, out: Out): Reporter {
  if (mode === 'json') return jsonReporter(out)
  if (mode === 'tty') return ttyReporter(out)
  return plainReporter(out)
}
