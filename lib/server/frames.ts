/**
 * The JSON text of the WebSocket's answer frames (`ws.ts`). `started` and
 * `result` go out once per run: they are written as text around
 * `JSON.stringify` of their values, not built as objects and stringified
 * whole (about half the cost per frame, measured with one-task runs). The
 * rarer frames stringify an object.
 */
import type { Started } from './hub'
import type { RunEnd } from './run-end'

/** `started { runId, status, created }`. */
export function startedFrame(ref: unknown, started: Started): string {
  return `{"type":"started","ref":${json(ref)},"runId":${JSON.stringify(started.runId)},"status":${JSON.stringify(started.status)},"created":${started.created}}`
}

/** `result { runId, status, output?, error? }`. */
export function resultFrame(ref: unknown, end: RunEnd): string {
  let text = `{"type":"result","ref":${json(ref)},"runId":${JSON.stringify(end.runId)},"status":${JSON.stringify(end.status)}`
  // an output or error JSON cannot write (`undefined`, a function) is left out, as JSON.stringify of the object would
  const output = end.output === undefined ? undefined : JSON.stringify(end.output)
  if (output !== undefined) text += `,"output":${output}`
  const error = end.error === undefined ? undefined : JSON.stringify(end.error)
  if (error !== undefined) text += `,"error":${error}`
  return `${text}}`
}

/** A client's `ref` (any JSON value it sent; none is `null`). */
function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null'
}
