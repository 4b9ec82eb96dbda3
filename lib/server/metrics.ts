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
    const started = new Counter({ name: 'arcflow_runs_started_total', help: 'Runs started, by workflow.', labelNames: ['workflow'], registers: r })
    const ended = new Counter({ name: 'arcflow_runs_ended_total', help: 'Runs ended, by status.', labelNames: ['status'], registers: r })
    const tasks = new Counter({ name: 'arcflow_tasks_total', help: 'Task executions ended, by status.', labelNames: ['status'], registers: r })
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: r, collect() { this.set(read()) } })
    }
    gauge('arcflow_live_runs', 'Runs in progress in this process.', () => engine.stats().liveRuns)
    gauge('arcflow_store_queue_depth', 'Writes queued for the store, not yet committed.', () => engine.stats().store?.queueDepth ?? 0)
    gauge('arcflow_store_flush_seconds', 'How long the last store flush took.', () => (engine.stats().store?.lastFlushMs ?? 0) / 1000)
    gauge('arcflow_http_connections', 'Open HTTP connections.', gauges.connections)
    gauge('arcflow_websocket_connections', 'Open WebSocket connections.', gauges.sockets)
    gauge('arcflow_event_streams', 'Open Server-Sent Events streams.', gauges.streams)
    const byWorkflow = new Map<string, Counter.Internal>()
    engine.on('event', (event) => {
      switch (event.type) {
        case 'run.started': {
          let c = byWorkflow.get(event.workflow)
          if (!c) byWorkflow.set(event.workflow, (c = started.labels(event.workflow)))
          c.inc()
          break
        }
        case 'run.succeeded':
        case 'run.failed':
        case 'run.cancelled':
        case 'run.timed_out':
          ended.labels(event.type.slice(4)).inc()
          break
        case 'task.succeeded':
        case 'task.failed':
        case 'task.timed_out':
          tasks.labels(event.type.slice(5)).inc()
          break
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
