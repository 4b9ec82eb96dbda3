// The command line with --store postgres://...: run, runs list / show,
// report, against a real cluster; the URL's password is never printed.
import test from 'ava'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { arcflow, hello, helloActions, workdir } from './support/cli'
import { usePostgres } from './support/postgres'

const pg = usePostgres(test)
const SECRET = 'cli-secret-pw-91'
const runIdOf = (stdout: string): string => /run (\S+) (succeeded|failed|cancelled)/.exec(stdout)![1]!

test('run, runs list, runs show and report on PostgreSQL', async (t) => {
  const cwd = workdir()
  const schema = pg.freshSchema('cli')
  // trust auth: the password is only there to be hidden
  const store = pg.url(schema).replace('postgres@', `postgres:${SECRET}@`)
  const r = await arcflow(['run', hello, '--actions', helloActions, '--input', '{"names":["Ada","Grace"]}', '--store', store, '--durability', 'sync'], cwd)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /✔ run \S+ succeeded in/)
  t.false(existsSync(join(cwd, '.arcflow')), 'nothing went to the default SQLite file')
  const id = runIdOf(r.stdout)
  t.is(await pg.sql(`select status from runs where id = '${id}'`, schema), 'succeeded')

  const list = await arcflow(['runs', 'list', '--store', store], cwd)
  t.is(list.code, 0, list.stderr)
  t.regex(list.stdout, new RegExp(`${id}\\s+hello\\s+succeeded`))
  const filtered = await arcflow(['runs', 'list', '--status', 'failed', '--store', store], cwd)
  t.is(filtered.code, 0, filtered.stderr)
  t.false(filtered.stdout.includes(id))
  const show = await arcflow(['runs', 'show', id, '--store', store], cwd)
  t.is(show.code, 0, show.stderr)
  t.regex(show.stdout, /status\s+succeeded/)
  t.regex(show.stdout, /greet\s+1\s+1\s+1\s+retrying/)
  const out = join(cwd, 'run.html')
  const report = await arcflow(['report', id, '--out', out, '--store', store], cwd)
  t.is(report.code, 0, report.stderr)
  t.true(readFileSync(out, 'utf8').includes(id))

  const missing = await arcflow(['runs', 'show', 'no-such-run', '--store', store], cwd)
  t.not(missing.code, 0)
  t.regex(missing.stderr, /no run no-such-run in postgres:\/\/postgres:\*\*\*@/)
  for (const x of [r, list, filtered, show, report, missing]) t.false((x.stdout + x.stderr).includes(SECRET))
})

test('a PostgreSQL store that refuses connections is a clear error, without the password', async (t) => {
  const cwd = workdir()
  const r = await arcflow(['runs', 'list', '--store', `postgres://app:${SECRET}@127.0.0.1:1/db`], cwd)
  t.not(r.code, 0)
  t.regex(r.stderr, /127\.0\.0\.1|connect|refused/i)
  t.false((r.stdout + r.stderr).includes(SECRET), r.stderr)
})
