/**
 * `GET /`: a small live page. Recent runs (`GET /v1/runs`); for the one
 * picked (`#run=ID`), its timeline, drawn by the report's code on the
 * server (`/ui/runs/:id/timeline`), redrawn as its events arrive over SSE.
 * With auth on, the token is read from the page's fragment
 * (`#token=...`, never sent to the server as part of the URL path) and
 * sent as a header (`?access_token=` for the EventSource, which cannot
 * set one).
 */
import { REPORT_STYLE } from '../cli/report'

export function renderPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>arcflow</title>
<style>
${REPORT_STYLE}
  #runs { width: 100%; border-collapse: collapse; margin-bottom: 16px; }
  #runs td, #runs th { text-align: left; padding: 2px 8px; border-bottom: 1px solid #f0f2f5; }
  #runs tr[data-id] { cursor: pointer; }
  #events { max-height: 240px; }
</style>
</head>
<body>
<h1>arcflow <span class="chip" id="conn">connecting</span></h1>
<table id="runs"><thead><tr><th>run</th><th>workflow</th><th>status</th><th>started</th></tr></thead><tbody></tbody></table>
<section id="run" hidden>
  <h1><span id="run-workflow"></span> <span class="chip status-badge" id="run-status"></span></h1>
  <div class="meta">run <code id="run-id"></code> · <span id="event-count">0</span> events</div>
  <div class="meta" id="summary"></div>
  <div id="timeline"></div>
  <pre id="events"></pre>
</section>
<script>
(() => {
  const params = new URLSearchParams(location.hash.slice(1))
  const token = params.get('token')
  const headers = token ? { authorization: 'Bearer ' + token } : {}
  const api = (path) => fetch(path, { headers }).then((r) => r.ok ? r : Promise.reject(new Error(path + ': ' + r.status)))
  const $ = (id) => document.getElementById(id)
  const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td }
  async function listRuns() {
    const { runs } = await (await api('/v1/runs?limit=20')).json()
    const body = $('runs').tBodies[0]
    body.replaceChildren(...runs.map((r) => {
      const tr = document.createElement('tr')
      tr.dataset.id = r.id
      tr.append(cell(r.id), cell(r.workflow), cell(r.status), cell(new Date(r.startedAt).toISOString()))
      tr.onclick = () => { location.hash = (token ? 'token=' + encodeURIComponent(token) + '&' : '') + 'run=' + encodeURIComponent(r.id); watch(r.id) }
      return tr
    }))
    $('conn').textContent = 'connected'
  }
  let source, pending = false
  async function draw(id) {
    pending = false
    const part = await (await api('/ui/runs/' + encodeURIComponent(id) + '/timeline')).json()
    $('timeline').innerHTML = part.timeline
    $('summary').innerHTML = part.summary
    $('run-status').textContent = part.status
    $('run-status').className = 'chip status-badge ' + part.status
    $('run-workflow').textContent = part.workflow
  }
  function watch(id) {
    source?.close()
    $('run').hidden = false
    $('run-id').textContent = id
    $('events').textContent = ''
    let count = 0
    draw(id)
    source = new EventSource('/v1/runs/' + encodeURIComponent(id) + '/events' + (token ? '?access_token=' + encodeURIComponent(token) : ''))
    source.onmessage = (m) => {
      const event = JSON.parse(m.data)
      $('event-count').textContent = String(++count)
      $('events').textContent += m.lastEventId + ' ' + event.type + (event.task ? ' ' + event.task : '') + '\\n'
      // one redraw per frame however many events arrive
      if (!pending) { pending = true; requestAnimationFrame(() => draw(id)) }
    }
    source.addEventListener('end', () => { source.close(); draw(id).then(listRuns) })
  }
  listRuns().catch((e) => { $('conn').textContent = String(e.message) })
  const picked = params.get('run')
  if (picked) watch(picked)
})()
</script>
</body>
</html>
`
}
