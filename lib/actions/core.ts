/** `core.echo`, `core.sleep`, `core.fail`. */
import type { ActionContext } from '../engine/attempt'
import { fail, object } from './input'

/** `core.echo`: answers its input. */
export async function echo(input: unknown): Promise<unknown> {
  return input
}

/** `core.sleep`: waits `ms` (a number, or `{ ms }`), cut short by the task's signal. */
export function sleep(input: unknown, { signal }: ActionContext): Promise<unknown> {
  const ms = typeof input === 'number' ? input : Number(object(input).ms)
  if (!Number.isFinite(ms) || ms < 0) fail(`core.sleep needs a number of milliseconds, got ${JSON.stringify(input)}`, 'ARCFLOW_BAD_INPUT')
  return new Promise((done, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      done({ slept: ms })
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** `core.fail`: fails with `message` and `code` (a string input is the message; code default `ARCFLOW_FAIL`). */
export async function failAction(input: unknown): Promise<never> {
  const spec = typeof input === 'string' ? { message: input } : object(input)
  fail(typeof spec.message === 'string' ? spec.message : 'core.fail', typeof spec.code === 'string' ? spec.code : 'ARCFLOW_FAIL')
}
