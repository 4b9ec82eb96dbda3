// The parent's side of the worker processes (queue/worker-process.js):
// fork, wait until ready, start, follow their counts, stop or kill.
'use strict'
const { fork } = require('node:child_process')
const { EventEmitter } = require('node:events')
const path = require('node:path')

const ENTRY = path.join(__dirname, 'worker-process.js')

/** Resolves on the first `event` of `emitter`; rejects if the process ends first. */
function once(emitter, event) {
  return new Promise((resolve, reject) => {
    const onExit = (code, signal) => reject(new Error(`worker process ${emitter.pid} ended (${signal ?? code}) before '${event}'`))
    emitter.once('exit', onExit)
    emitter.once(event, (value) => {
      emitter.off('exit', onExit)
      resolve(value)
    })
  })
}

class WorkerProcess extends EventEmitter {
  /** `adapter`: `{ module, config }`, what worker-process.js loads. */
  constructor(adapter, url) {
    super()
    this.jobs = 0
    this.first = undefined
    this.child = fork(ENTRY, [adapter.module, JSON.stringify(adapter.config ?? {}), url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.pid = this.child.pid
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
    this.child.once('exit', (code, signal) => this.emit('exit', code, signal))
    this.child.on('message', (m) => {
      if (typeof m === 'string') return this.emit(m)
      if (m.jobs !== undefined) {
        this.jobs += m.jobs
        this.emit('jobs', m.jobs)
      }
      if (m.first !== undefined) {
        this.first = BigInt(m.first)
        this.emit('first', this.first)
      }
      if (m.elu !== undefined) this.emit('elu', m.elu)
      if (m.started !== undefined) this.emit('started', { started: BigInt(m.started), t: BigInt(m.t) })
    })
    this.ready = once(this, 'ready')
  }

  /** Starts working; resolves when the adapter's worker is up. */
  go() {
    const working = once(this, 'working')
    this.child.send('go')
    return working
  }

  /** The JS thread's event-loop utilisation so far: `{ active, idle }` ms. */
  elu() {
    const answer = once(this, 'elu')
    this.child.send('elu')
    return answer
  }

  release() {
    this.child.send('release')
  }

  /** A clean stop: the adapter's own stop, then the process exits. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited
    const stopped = once(this, 'stopped')
    this.child.send('stop')
    await stopped
    const timeout = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    const result = await this.exited
    clearTimeout(timeout)
    return result
  }

  /** Kills the process (our own child, by its pid), e.g. 'SIGKILL'. */
  kill(signal) {
    this.child.kill(signal)
    return this.exited
  }
}

/** `n` worker processes, every one ready (loaded, not yet working). */
async function spawnWorkers(adapter, url, n) {
  const workers = Array.from({ length: n }, () => new WorkerProcess(adapter, url))
  try {
    await Promise.all(workers.map((w) => w.ready))
  } catch (e) {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')))
    throw e
  }
  return workers
}

module.exports = { WorkerProcess, spawnWorkers, once }
