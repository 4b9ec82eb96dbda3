/** The canonical form of an SQLite database path, by which engines of a process share its store. */
import { realpathSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'

/** Absolute, symlinks resolved (of its directory while the file does not exist yet). */
export function canonicalPath(path: string): string {
  const absolute = resolve(path)
  try {
    return realpathSync(absolute)
  } catch {
    try {
      return join(realpathSync(dirname(absolute)), basename(absolute))
    } catch {
      return absolute // the directory is missing: the store's open says so
    }
  }
}
