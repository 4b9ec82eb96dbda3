/**
 * `GET /metrics`: Prometheus text format through prom-client (the
 * maintained client; a registry of the server's own, so an application
 * mounting the handler keeps its default one to itself).
 */
import { Counter, Gauge, Registry } from 'prom-client'

import type { Engine } from '../engine/engine'

export interface Gauges {
  connections(): number
  sockets(): number
  streams(): number
}

export class Metrics {
  readonly registry = new Registry()

  constructor(engine: Engine, gauges: Gauges) {
    const r = [this.registry]
    // each event adds to a plain count; prom-client reads the counts when scraped (collect),
    // so an event costs an increment, not a label lookup (a count is a box: no Map.set once it exists)
    const counts = { started: new Map<string, { n: number }>(), ended: new Map<string, { n: number }>(), tasks: new Map<string, { n: number }>() }
    const counter = (name: string, help: string, label: string, values: Map<string, { n: number }>): void => {
      new Counter({
        name,
        help,
        labelNames: [label],
        registers: r,
        collect() {
          this.reset()
          for (const [value, { n }] of values) this.inc({ [label]: value }, n)
        },
      })
    }
    counter('arcflow_runs_started_total', 'Runs started, by workflow.', 'workflow', counts.started)
    counter('arcflow_runs_ended_total', 'Runs ended, by status.', 'status', counts.ended)
    counter('arcflow_tasks_total', 'Task executions ended, by status.', 'status', counts.tasks)
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: r, collect() { this.set(read()) } })
    }
    gauge('arcflow_live_runs', 'Runs in progress in this process.', () => engine.stats().liveRuns)
    gauge('arcflow_store_queue_depth', 'Writes queued for the store, not yet committed.', () => engine.stats().store?.queueDepth ?? 0)
    gauge('arcflow_store_flush_seconds', 'How long the last store flush took.', () => (engine.stats().store?.lastFlushMs ?? 0) / 1000)
    gauge('arcflow_http_connections', 'Open HTTP connections.', gauges.connections)
    gauge('arcflow_websocket_connections', 'Open WebSocket connections.', gauges.sockets)
    gauge('arcflow_event_streams', 'Open Server-Sent Events streams.', gauges.streams)
    const add = (values: Map<string, { n: number }>, key: string): void => {
      const count = values.get(key)
      if (count) count.n++
      else values.set(key, { n: 1 })
    }
    // the status as a literal, not `type.slice(...)`: a new string per event would be hashed for each lookup
    engine.on('event', (event) => {
      switch (event.type) {
        case 'run.started':
          return add(counts.started, event.workflow)
        case 'run.succeeded':
          return add(counts.ended, 'succeeded')
        case 'run.failed':
          return add(counts.ended, 'failed')
        case 'run.cancelled':
          return add(counts.ended, 'cancelled')
        case 'run.timed_out':
          return add(counts.ended, 'timed_out')
        case 'task.succeeded':
          return add(counts.tasks, 'succeeded')
        case 'task.failed':
          return add(counts.tasks, 'failed')
        case 'task.timed_out':
          return add(counts.tasks, 'timed_out')
      }
    })
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
