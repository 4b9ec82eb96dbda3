// arcflow/server on loopback, one request at a time, beside a bare
// node:http JSON echo and a bare ws JSON echo measured in the same run
// (each parses the request and answers JSON, as the server's routes do): a
// trivial one-task run over POST /v1/runs (wait: true) and over WebSocket
// start → result (p50 / p99); 64 runs in flight over one WebSocket
// (runs/s); events per second to 1,000 SSE subscribers.
'use strict'
const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')
const WebSocket = require('ws')
const { Engine } = require('../dist/index.js')
const { createServer } = require('../dist/server/index.js')

const N = Number(process.env.SERVER_BENCH_N ?? 5_000)
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
const us = (ns) => Number((ns / 1e3).toFixed(1))
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

function post(port, pathname, body) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body)
    const req = http.request({ port, host: '127.0.0.1', path: pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), authorization: 'Bearer bench' } }, (res) => {
      let out = ''
      res.on('data', (d) => (out += d))
      res.on('end', () => resolve(out))
    })
    req.on('error', reject)
    req.end(text)
  })
}

async function timeEach(n, once) {
  for (let i = 0; i < 500; i++) await once() // warm up
  const times = []
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await once()
    times.push(Number(process.hrtime.bigint() - t0))
  }
  return { p50: us(pct(times, 0.5)), p99: us(pct(times, 0.99)) }
}

function wsRoundTrip(ws) {
  let wake
  ws.on('message', (d) => { if (JSON.parse(d).type === 'result') wake(d) })
  return (frame) => new Promise((resolve) => { wake = resolve; ws.send(frame) })
}

async function main() {
  const results = {}
  // bare node:http JSON echo
  const echo = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => { const text = JSON.stringify({ echo: JSON.parse(body) }); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }); res.end(text) })
  })
  await new Promise((r) => echo.listen(0, '127.0.0.1', r))
  results['node:http JSON echo'] = await timeEach(N, () => post(echo.address().port, '/', { workflow: 'trivial', input: 1, wait: true }))
  echo.close()
  // bare ws echo: like the server's route it parses the frame and answers a JSON frame, and the
  // client parses what comes back as it does arcflow's frames (a fair floor: only arcflow's own work differs)
  const wss = new WebSocket.Server({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
  wss.on('connection', (s) => s.on('message', (d) => { const f = JSON.parse(d); s.send(JSON.stringify({ type: 'result', ref: f.ref, echo: f })) }))
  await new Promise((r) => wss.once('listening', r))
  const bare = new WebSocket(`ws://127.0.0.1:${wss.address().port}`, { perMessageDeflate: false })
  await new Promise((r) => bare.once('open', r))
  const bareTrip = wsRoundTrip(bare)
  results['ws echo'] = await timeEach(N, () => bareTrip('{"type":"start","ref":1,"workflow":"trivial","input":1}'))
  bare.close()
  wss.close()

  const engine = new Engine({ builtins: true })
  const wf = engine.workflow({ name: 'trivial', tasks: { echo: { action: 'core.echo', input: '{{ input }}' } }, output: '{{ tasks.echo.result }}' })
  const gate = { open: null }
  engine.action('hold', () => new Promise((r) => (gate.open = r)))
  engine.action('burst', async ({ n }, ctx) => { for (let i = 0; i < n; i++) ctx.log('e', i); return n })
  const burst = engine.workflow({ name: 'burst', tasks: { hold: { action: 'hold', next: { do: 'talk' } }, talk: { action: 'burst', input: { n: '{{ input.n }}' } } } })
  const server = createServer({ engine, workflows: [wf, burst], tokens: ['bench'], port: 0 })
  const { port, url } = await server.listen()
  results['arcflow POST /v1/runs wait:true'] = await timeEach(N, () => post(port, '/v1/runs', { workflow: 'trivial', input: 1, wait: true }))
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/ws`, { headers: { authorization: 'Bearer bench' }, perMessageDeflate: false })
  await new Promise((r) => ws.once('open', r))
  {
    let wake
    ws.on('message', (d) => { if (JSON.parse(d).type === 'result') wake() })
    results['arcflow WebSocket start → result'] = await timeEach(N, () => new Promise((r) => { wake = r; ws.send('{"type":"start","ref":1,"workflow":"trivial","input":1}') }))
    ws.removeAllListeners('message')
  }
  // 64 in flight over the one socket
  {
    const total = N * 4
    let sent = 0, done = 0, finish
    const t0 = process.hrtime.bigint()
    const next = () => { if (sent < total) { sent++; ws.send('{"type":"start","ref":1,"workflow":"trivial","input":1}') } }
    ws.on('message', (d) => { if (d.includes('"result"')) { done++; if (done === total) finish(); else next() } })
    const all = new Promise((r) => (finish = r))
    for (let i = 0; i < 64; i++) next()
    await all
    results['arcflow WebSocket, 64 in flight'] = { runsPerSecond: Math.round(total / (Number(process.hrtime.bigint() - t0) / 1e9)) }
    ws.close()
  }
  // events/s to 1,000 SSE subscribers
  {
    const subs = 1_000
    const events = 200
    const res = JSON.parse(await post(port, '/v1/runs', { workflow: 'burst', input: { n: events } }))
    const pool = new http.Agent({ keepAlive: false, maxSockets: Infinity })
    let ended = 0, finish, ready = 0, allReady
    const readyP = new Promise((r) => (allReady = r))
    const over = new Promise((r) => (finish = r))
    let delivered = 0
    for (let i = 0; i < subs; i++) {
      http.get({ port, host: '127.0.0.1', path: `/v1/runs/${res.id}/events`, agent: pool, headers: { authorization: 'Bearer bench' } }, (r) => {
        if (++ready === subs) allReady()
        r.setEncoding('utf8')
        // each event is its own write, so a chunk usually starts at "id: ": the previous chunk's
        // last characters go in front (four: a whole "\nid: " never fits, so none counts twice)
        let tail = '\n'
        r.on('data', (d) => {
          const text = tail + d
          for (let j = text.indexOf('\nid: '); j >= 0; j = text.indexOf('\nid: ', j + 1)) delivered++
          tail = text.slice(-4)
        })
        r.on('end', () => { if (++ended === subs) finish() })
      })
    }
    await readyP
    // what each subscriber got before the burst (the run's start) is not part of the rate
    const before = delivered
    const t0 = process.hrtime.bigint()
    gate.open(1)
    await over
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    const burstEvents = delivered - before
    // every subscriber gets every event: anything less is a bug of the server or of this count
    if (burstEvents < subs * events) throw new Error(`SSE: ${burstEvents} events delivered, expected at least ${subs * events}`)
    results['arcflow SSE, 1,000 subscribers'] = { eventsPerSecond: Math.round(burstEvents / s), delivered: burstEvents }
  }
  await server.close()
  await engine.close()
  console.table(results)
  fs.writeFileSync(path.join(__dirname, 'results', 'server.json'), JSON.stringify(results, null, 2))
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
