// Starts a run on an `arcflow serve` and prints its events as they come,
// over one WebSocket:
//   ARCFLOW_TOKENS=s3cret arcflow serve --workflows examples/flows/hello.yaml --actions examples/hello-actions.mjs
//   ARCFLOW_TOKEN=s3cret node examples/server-client.mjs
import WebSocket from 'ws'

const url = process.env.ARCFLOW_URL ?? 'ws://127.0.0.1:8080/v1/ws'
const ws = new WebSocket(url, { headers: { authorization: `Bearer ${process.env.ARCFLOW_TOKEN ?? ''}` } })
ws.on('open', () => ws.send(JSON.stringify({ type: 'start', ref: 'hello', workflow: 'hello', input: { names: ['Ada', 'Grace'] }, events: true })))
ws.on('message', (data) => {
  const frame = JSON.parse(String(data))
  if (frame.type === 'started') console.log(`run ${frame.runId} started`)
  else if (frame.type === 'event') console.log(frame.seq, frame.event.type, frame.event.task ?? '')
  else if (frame.type === 'result') {
    console.log(frame.status, JSON.stringify(frame.output ?? frame.error))
    ws.close()
  } else if (frame.type === 'error') {
    console.error(frame.error.code, frame.error.message)
    ws.close()
  }
})
ws.on('unexpected-response', (_req, res) => console.error(`HTTP ${res.statusCode}`))
