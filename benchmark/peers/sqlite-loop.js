'use strict'
// The plain way to make a chain durable: better-sqlite3, one INSERT (its own
// transaction) per step, in WAL mode with synchronous=FULL like arcflow's
// store. What a per-step database write costs, without any engine.
const Database = require('better-sqlite3')

function open(file) {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE IF NOT EXISTS steps (run INTEGER, step INTEGER, result TEXT, PRIMARY KEY (run, step))')
  const insert = db.prepare('INSERT INTO steps (run, step, result) VALUES (?, ?, ?)')
  let runs = 0
  const inc = async (n) => n + 1
  return {
    /** A 10-step chain: each step awaits its action, then writes its result. */
    async chain10(n) {
      const run = ++runs
      for (let step = 0; step < 10; step++) {
        n = await inc(n)
        insert.run(run, step, JSON.stringify(n))
      }
      return n
    },
    close: () => db.close(),
  }
}

module.exports = { open }
