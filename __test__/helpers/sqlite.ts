// Reads a database file directly (better-sqlite3), to check what is on disk.
import Database from 'better-sqlite3'

export class SqliteStoreForTests {
  readonly #db: Database.Database
  constructor(path: string) {
    this.#db = new Database(path, { readonly: true })
  }
  value(sql: string): unknown {
    return Object.values(this.#db.prepare(sql).get() as Record<string, unknown>)[0]
  }
  close(): void {
    this.#db.close()
  }
}
