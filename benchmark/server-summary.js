// The server section of benchmark/results/summary.md, from server.json
// (benchmark/server.bench.js): latency beside the bare echoes of the same
// run, throughput, SSE fan-out, and issue 15's goals.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a')
const verdict = (ok) => (ok ? 'met' : 'NOT met')

/** The section's lines, or none when the server suite has not run. */
function serverSection(dir) {
  const file = path.join(dir, 'server.json')
  if (!fs.existsSync(file)) return []
  const r = JSON.parse(fs.readFileSync(file, 'utf8'))
  const http = r['arcflow POST /v1/runs wait:true']
  const ws = r['arcflow WebSocket start → result']
  const httpEcho = r['node:http JSON echo']
  const wsEcho = r['ws echo']
  const inFlight = r['arcflow WebSocket, 64 in flight']
  const sse = r['arcflow SSE, 1,000 subscribers']
  const lines = ['', '## server on loopback (issue 15)', '', 'A trivial one-task run, one request at a time over keep-alive, beside bare echoes measured in the same run (µs).', '']
  lines.push('| case | p50 µs | p99 µs |', '| --- | ---: | ---: |')
  for (const [name, v] of [['node:http JSON echo', httpEcho], ['arcflow POST /v1/runs wait:true', http], ['ws echo', wsEcho], ['arcflow WebSocket start → result', ws]]) {
    if (v) lines.push(`| ${name} | ${v.p50} | ${v.p99} |`)
  }
  lines.push('', `- 64 runs in flight over one WebSocket: ${int(inFlight?.runsPerSecond)} runs/s`)
  lines.push(`- 1,000 SSE subscribers on one run: ${int(sse?.eventsPerSecond)} events/s delivered (${int(sse?.delivered)} events in all)`)
  lines.push('', 'Goals:')
  if (http && ws) lines.push(`- p99 ≤ 1 ms: HTTP ${http.p99} µs, WebSocket ${ws.p99} µs: ${verdict(http.p99 <= 1000 && ws.p99 <= 1000)}`)
  if (http && httpEcho) lines.push(`- HTTP p50 within 2× the node:http echo: ${(http.p50 / httpEcho.p50).toFixed(2)}×: ${verdict(http.p50 <= 2 * httpEcho.p50)}`)
  if (ws && wsEcho) lines.push(`- WebSocket p50 within 2× the ws echo: ${(ws.p50 / wsEcho.p50).toFixed(2)}×: ${verdict(ws.p50 <= 2 * wsEcho.p50)}`)
  if (inFlight) lines.push(`- ≥ 10,000 runs/s with 64 in flight: ${verdict(inFlight.runsPerSecond >= 10_000)}`)
  return lines
}

module.exports = { serverSection }
