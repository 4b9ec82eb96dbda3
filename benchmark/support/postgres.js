// A throwaway PostgreSQL cluster for the queue benchmarks: Debian's
// binaries from /usr/lib/postgresql/<newest>/bin, run as the `postgres`
// user (`runuser`: PostgreSQL refuses to run as root) in a temporary
// directory that user owns, on a free port of 127.0.0.1 only.
//
// Unlike the test harness (crates/arcflow-core/tests/support/postgres.rs),
// fsync stays ON and synchronous_commit keeps its default (on): a queue
// benchmark on a database that does not make commits durable would measure
// nothing the peers' published figures can be set beside.
//
// Stopped and removed by `stop()`, by an exit hook (a failing suite
// included), and, should the suite die without exiting (kill -9), by a
// watchdog shell that waits for the suite's pid to go away.
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { Client } = require('pg')

const ROOT = '/usr/lib/postgresql'

/** The newest installed PostgreSQL's bin directory, and its major version. */
function binDir() {
  const versions = (fs.existsSync(ROOT) ? fs.readdirSync(ROOT) : [])
    .filter((v) => /^\d+$/.test(v) && fs.existsSync(path.join(ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  if (versions.length === 0) {
    throw new Error(`PostgreSQL is not installed (no ${ROOT}/<version>/bin/initdb): install Debian's postgresql package (.ci/run does)`)
  }
  return { bin: path.join(ROOT, versions[0], 'bin'), version: versions[0] }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Runs `program args` as the postgres user; throws with its output if it fails. */
function asPostgres(cwd, program, args) {
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', program, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (e) {
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`
    throw new Error(`${path.basename(program)} ${args.join(' ')} failed: ${e.message}\n${out}`)
  }
}

class Cluster {
  constructor(dir, bin, version) {
    this.dir = dir
    this.bin = bin
    this.version = version
    this.data = path.join(dir, 'data')
    this.port = 0
    this.stopped = false
    this.databases = 0
  }

  /** initdb, then pg_ctl start on a free port. */
  async start() {
    asPostgres(this.dir, path.join(this.bin, 'initdb'), ['-D', this.data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-instructions'])
    this.watch()
    let last
    // a port found free can be taken before the server binds it: try another
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freePort()
      const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.dir} -c fsync=on`
      const log = path.join(this.dir, 'server.log')
      try {
        asPostgres(this.dir, path.join(this.bin, 'pg_ctl'), ['-D', this.data, '-l', log, '-o', options, '-w', '-t', '60', 'start'])
        return this
      } catch (e) {
        last = `${e.message}\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}`
      }
    }
    throw new Error(`cannot start PostgreSQL: ${last}`)
  }

  /** Should this process die without exiting, a shell stops the cluster. */
  watch() {
    const pgCtl = path.join(this.bin, 'pg_ctl')
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
      `runuser -u postgres -- ${pgCtl} -D ${this.data} -m immediate stop; rm -rf ${this.dir}`
    this.watchdog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true })
    this.watchdog.unref()
  }

  /** The URL of database `db`. */
  url(db = 'postgres') {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`
  }

  /** A database no other suite of this cluster uses; answers its URL and name. */
  async freshDatabase(prefix) {
    const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${++this.databases}`
    await this.query(`CREATE DATABASE ${name}`)
    return { url: this.url(name), name }
  }

  /** One statement on the `postgres` database, on a connection of its own. */
  async query(sql, params) {
    const client = new Client({ connectionString: this.url() })
    await client.connect()
    try {
      return await client.query(sql, params)
    } finally {
      await client.end()
    }
  }

  /**
   * Committed transactions of database `name` so far (`pg_stat_database`).
   * Backends report their counts when idle (at most once a second) and at
   * exit, so read this after the workers have exited.
   */
  async commits(name) {
    const { rows } = await this.query('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [name])
    return Number(rows[0].n)
  }

  /** Stops the server and removes its directory (once). */
  stop() {
    if (this.stopped) return
    this.stopped = true
    try {
      if (this.port) asPostgres(this.dir, path.join(this.bin, 'pg_ctl'), ['-D', this.data, '-m', 'fast', '-w', 'stop'])
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true })
      // our own child, by its handle
      if (this.watchdog && this.watchdog.exitCode === null) this.watchdog.kill()
    }
  }
}

/** Starts a cluster; it is stopped at the latest when this process exits. */
async function startCluster() {
  const { bin, version } = binDir()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arcflow-bench-pg-'))
  execFileSync('chown', ['postgres:postgres', dir])
  const cluster = new Cluster(dir, bin, version)
  process.once('exit', () => cluster.stop())
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      cluster.stop()
      process.exit(130)
    })
  }
  try {
    return await cluster.start()
  } catch (e) {
    cluster.stop()
    throw e
  }
}

module.exports = { startCluster }
