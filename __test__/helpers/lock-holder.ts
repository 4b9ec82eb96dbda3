// Another process (fixtures/lock-holder.cjs) holds an SQLite file's write
// lock until told. The child is killed at the test's teardown whatever
// happens: a failing test must not leave it alive (ava would then wait
// for it, and the whole run would hang).
import type { ExecutionContext } from 'ava'
import Database from 'better-sqlite3'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export interface LockHolder {
  /** Lets the lock go and waits for the child to exit. */
  release: () => Promise<void>
  /** Whether `release` was called. */
  released: () => boolean
}

/** Takes `path`'s write lock in another process; checks it is really held. */
export async function holdWriteLock(t: ExecutionContext, path: string): Promise<LockHolder> {
  const holder: ChildProcess = spawn(process.execPath, [join(__dirname, '..', 'fixtures', 'lock-holder.cjs'), path], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()))
  t.teardown(async () => {
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL')
    await exited
  })
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: holder.stdout! }).once('line', () => resolve())
    holder.once('exit', (code) => reject(new Error(`the lock holder exited with ${String(code)}`)))
  })
  // the lock is really held: a writer that does not wait is refused
  const probe = new Database(path, { timeout: 0 })
  try {
    probe.exec('BEGIN IMMEDIATE')
    probe.exec('ROLLBACK')
    throw new Error('the lock holder does not hold the write lock')
  } catch (error) {
    if (!/locked|busy/i.test(String(error))) throw error
  } finally {
    probe.close()
  }
  let sent = false
  return {
    released: () => sent,
    release: async () => {
      sent = true
      holder.stdin!.end()
      await exited
    },
  }
}
