// Reads a database file directly (better-sqlite3), to check what is on disk.
import Database from 'better-sqlite3'

export class SqliteStoreForTests {
  readonly #db: Database.Database
  constructor(path: string) {
    this.#db = new Database(path, { readonly: true })
  }
  value(sql: string): unknown {
    return Object.values(this.row(sql))[0]
  }
  /** The first row of `sql`, by column. */
  row(sql: string): Record<string, unknown> {
    return this.#db.prepare(sql).get() as Record<string, unknown>
  }
  close(): void {
    this.#db.close()
  }
}
