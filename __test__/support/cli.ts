// Driving the `arcflow` command from tests: a spawned process, its exit
// code and output, lines as they come.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export const root = join(__dirname, '..', '..')
export const bin = join(root, 'bin', 'arcflow.js')
export const fixtures = join(__dirname, '..', 'fixtures', 'cli')
export const hello = join(root, 'examples', 'flows', 'hello.yaml')
export const helloActions = join(root, 'examples', 'hello-actions.mjs')

export interface Result {
  code: number | null
  stdout: string
  stderr: string
}

export function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
}

export function finish(child: ChildProcess): Promise<Result> {
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d))
  child.stderr!.on('data', (d: Buffer) => (stderr += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

export const arcflow = (args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Result> => finish(start(args, cwd, env))
export const workdir = (prefix = 'arcflow-cli-'): string => mkdtempSync(join(tmpdir(), prefix))

/** Resolves when the child prints a line matching `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      if (pattern.test(line)) resolve(line)
    })
    child.on('close', () => reject(new Error(`the command ended before printing ${pattern}`)))
  })
}
