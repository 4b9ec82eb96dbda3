/** `shell.exec`: off unless asked for (it runs any program the workflow names). */
import { execFile } from 'node:child_process'

import type { ActionContext } from '../engine/attempt'
import { fail, object } from './input'

/** `shell.exec`: runs a command (no shell: `{ command, args, cwd, env }`), killed by the task's signal. */
export function shellExec(input: unknown, { signal }: ActionContext): Promise<unknown> {
  const spec = typeof input === 'string' ? { command: input } : object(input)
  if (typeof spec.command !== 'string') fail(`shell.exec needs a command, got ${JSON.stringify(input)}`, 'ARCFLOW_BAD_INPUT')
  const args = Array.isArray(spec.args) ? spec.args.map(String) : []
  return new Promise((done, reject) => {
    execFile(spec.command as string, args, {
      signal,
      cwd: typeof spec.cwd === 'string' ? spec.cwd : undefined,
      env: { ...process.env, ...(object(spec.env) as Record<string, string>) },
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      if (signal.aborted) return reject(signal.reason)
      const code = error ? ((error as { code?: unknown }).code ?? 1) : 0
      if (error) reject(Object.assign(new Error(`${spec.command} exited with ${code}: ${stderr.trim().slice(0, 500)}`), { code: 'SHELL_EXIT', exitCode: code, stdout, stderr }))
      else done({ code, stdout, stderr })
    })
  })
}

