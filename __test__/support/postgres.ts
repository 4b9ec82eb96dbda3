// A throwaway PostgreSQL cluster per test file, the twin of the Rust
// harness (crates/arcflow-core/tests/support/postgres.rs).
//
//   import test from 'ava'
//   import { usePostgres } from './support/postgres'
//   const pg = usePostgres(test)            // started in test.before, removed in test.after.always
//   test('...', async (t) => {
//     const engine = new Engine({ store: pg.url() })   // a fresh schema: tests do not see each other
//     await pg.restart()                               // pg_ctl restart (also stop() / start())
//     t.is(await pg.scalar('select count(*) from runs', schema), '3')
//   })
//
// - Debian's binaries, from /usr/lib/postgresql/<newest>/bin, run as the
//   `postgres` user (`runuser`: PostgreSQL refuses to run as root) in a
//   temporary directory that user owns, on a free port of 127.0.0.1 only,
//   its unix socket in that directory, trust auth, fsync=off (a test
//   cluster need not survive a power cut).
// - Removed by test.after.always, by process 'exit' should the file end
//   another way, and, should the process die without exiting (kill -9), by a
//   watchdog shell that waits for this process's pid to go away.
// - Missing binaries or a cluster that cannot start FAIL the file's tests
//   (the before hook throws with what went wrong); nothing here skips.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestFn } from 'ava'

const ROOT = '/usr/lib/postgresql'

/** The newest installed PostgreSQL's `bin` directory, or a clear error. */
export function binDir(): string {
  const versions = existsSync(ROOT) ? readdirSync(ROOT).filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb'))) : []
  versions.sort((a, b) => Number(b) - Number(a))
  if (versions.length === 0) {
    throw new Error(`PostgreSQL is not installed (no ${ROOT}/<version>/bin/initdb): install Debian's postgresql package (.ci/run does); a PostgreSQL test fails rather than skips`)
  }
  return join(ROOT, versions[0]!, 'bin')
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Runs `program args` as the postgres user; rejects with its output. */
function asPostgres(cwd: string, program: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('runuser', ['-u', 'postgres', '--', program, ...args], { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${program} ${args.join(' ')} failed (${error.message}):\n${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}

let nextSchema = 0

export class Cluster {
  port = 0
  readonly dir: string
  readonly bin: string
  #watchdog: ChildProcess | undefined
  #removed = false

  private constructor(dir: string, bin: string) {
    this.dir = dir
    this.bin = bin
  }

  /** initdb, then pg_ctl start on a free port; rejects with what went wrong. */
  static async create(): Promise<Cluster> {
    const bin = binDir()
    const dir = mkdtempSync(join(tmpdir(), 'arcflow-pg-'))
    const cluster = new Cluster(dir, bin)
    try {
      const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()
      const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()
      chownSync(dir, Number(ids), Number(gid))
      cluster.#watch()
      await asPostgres(dir, join(bin, 'initdb'), ['-D', cluster.data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']).catch((e: Error) => {
        throw new Error(`cannot create a PostgreSQL cluster: ${e.message}`)
      })
      let last = ''
      // a port found free can be taken before the server binds it: try another
      for (let i = 0; i < 3; i++) {
        cluster.port = await freePort()
        try {
          await cluster.start()
          return cluster
        } catch (error) {
          last = (error as Error).message
        }
      }
      throw new Error(`cannot start PostgreSQL: ${last}`)
    } catch (error) {
      cluster.remove()
      throw error
    }
  }

  get data(): string {
    return join(this.dir, 'data')
  }

  get log(): string {
    return join(this.dir, 'server.log')
  }

  #options(): string {
    return `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
  }

  /** pg_ctl start (waits until it accepts connections). */
  async start(): Promise<void> {
    try {
      await asPostgres(this.dir, join(this.bin, 'pg_ctl'), ['-D', this.data, '-l', this.log, '-o', this.#options(), '-w', '-t', '60', 'start'])
    } catch (error) {
      const log = existsSync(this.log) ? readFileSync(this.log, 'utf8') : ''
      throw new Error(`${(error as Error).message}\n${log}`)
    }
  }

  /** pg_ctl stop, fast mode (connections are cut). */
  async stop(): Promise<void> {
    await asPostgres(this.dir, join(this.bin, 'pg_ctl'), ['-D', this.data, '-m', 'fast', '-w', '-t', '60', 'stop'])
  }

  /** pg_ctl restart, fast mode: every connection is cut, the server comes back on the same port. */
  async restart(): Promise<void> {
    await asPostgres(this.dir, join(this.bin, 'pg_ctl'), ['-D', this.data, '-l', this.log, '-o', this.#options(), '-m', 'fast', '-w', '-t', '60', 'restart'])
  }

  /** The URL of the cluster's `postgres` database in `schema` (a fresh one unless given). */
  url(schema = this.freshSchema()): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres?schema=${schema}`
  }

  /** A schema no other test of this file uses (the store's open creates it). */
  freshSchema(prefix = 't'): string {
    return `${prefix}_${process.pid}_${nextSchema++}`
  }

  /** Runs SQL through psql (behind the store's back), in `schema` when given; its unaligned output. */
  async sql(query: string, schema?: string): Promise<string> {
    const args = ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-d', 'postgres', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1']
    const text = schema === undefined ? query : `set search_path to "${schema}"; ${query}`
    return new Promise((resolve, reject) => {
      execFile(join(this.bin, 'psql'), [...args, '-c', text], { encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error) reject(new Error(`psql ${JSON.stringify(query)} failed: ${stderr || error.message}`))
        else resolve(stdout.trim())
      })
    })
  }

  /** Should this process die without exiting, a shell stops the cluster and removes it. */
  #watch(): void {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; runuser -u postgres -- ${join(this.bin, 'pg_ctl')} -D ${this.data} -m immediate stop; rm -rf ${this.dir}`
    const child = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true })
    child.unref()
    this.#watchdog = child
  }

  /** Stops the server (immediate: nothing here needs it afterwards) and removes its directory; once. */
  remove(): void {
    if (this.#removed) return
    this.#removed = true
    if (this.port !== 0 && existsSync(join(this.data, 'postmaster.pid'))) {
      try {
        execFileSync('runuser', ['-u', 'postgres', '--', join(this.bin, 'pg_ctl'), '-D', this.data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' })
      } catch {
        // already stopped
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
    // our own child, by its handle
    if (this.#watchdog?.pid !== undefined && this.#watchdog.exitCode === null) this.#watchdog.kill()
  }
}

/** The file's cluster: its methods work from the tests on (before that they throw). */
export interface Postgres {
  readonly cluster: Cluster
  readonly port: number
  url(schema?: string): string
  freshSchema(prefix?: string): string
  sql(query: string, schema?: string): Promise<string>
  restart(): Promise<void>
  stop(): Promise<void>
  start(): Promise<void>
}

/**
 * Starts one cluster for the test file (`test.before`) and removes it when
 * the file's tests end (`test.after.always`, and on process exit).
 */
export function usePostgres(test: TestFn): Postgres {
  let cluster: Cluster | undefined
  let failure: Error | undefined
  const get = (): Cluster => {
    if (cluster) return cluster
    throw new Error(`the test PostgreSQL cluster did not start: ${failure?.message ?? 'used before test.before ran'}`)
  }
  test.before(async () => {
    try {
      cluster = await Cluster.create()
    } catch (error) {
      failure = error as Error
      throw error
    }
    process.once('exit', () => cluster?.remove())
  })
  test.after.always(() => cluster?.remove())
  return {
    get cluster() {
      return get()
    },
    get port() {
      return get().port
    },
    url: (schema) => get().url(schema),
    freshSchema: (prefix) => get().freshSchema(prefix),
    sql: (query, schema) => get().sql(query, schema),
    restart: () => get().restart(),
    stop: () => get().stop(),
    start: () => get().start(),
  }
}
