// Clients that do not behave, and the live page in a real browser.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { api, serve, TOKEN } from './support/server'

test('subscribers that never read are disconnected at the buffer cap: the run ends, server memory stays bounded', async (t) => {
  const cap = 64 * 1024
  const s = await serve({ subscriberBufferBytes: cap })
  try {
    const n = 20_000
    const size = 1_000
    const subscribers = 20
    const { body } = await api(`${s.url}/v1/runs`, { body: { workflow: 'noisy', input: { n, size } } })
    await s.gate.reached(1)
    const { port } = new URL(s.url)
    const sockets = Array.from({ length: subscribers }, () => {
      const socket = connect(Number(port), '127.0.0.1')
      socket.write(`GET /v1/runs/${body.id}/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`)
      socket.pause() // never reads
      return socket
    })
    for (let i = 0; i < 200 && s.server.handler.streams < subscribers; i++) await new Promise((r) => setTimeout(r, 10))
    t.is(s.server.handler.streams, subscribers)
    const before = process.memoryUsage().rss
    // 20 MB of events for each subscriber, which reads none of them
    const ended = api(`${s.url}/v1/runs`, { body: { workflow: 'noisy', input: { n, size }, idempotencyKey: 'k' } })
    s.gate.release()
    await ended
    const done = await api(`${s.url}/v1/runs`, { body: { workflow: 'trivial', input: 1, wait: true } })
    t.is(done.body.status, 'succeeded', 'the server still answers')
    const info = await api(`${s.url}/v1/runs/${body.id}`)
    t.is(info.body.status, 'succeeded', 'the engine did not wait for the stuck subscribers')
    t.is(s.server.handler.streams, 0, 'every stuck subscriber was disconnected')
    const grown = process.memoryUsage().rss - before
    const unbounded = subscribers * n * size
    // the two runs' own event histories (2 × n × size) stay in the engine whatever the subscribers do, with garbage not yet collected
    t.true(grown < unbounded / 4, `RSS grew ${grown} bytes, under a quarter of the ${unbounded} the stuck subscribers would hold`)
    for (const socket of sockets) socket.destroy()
  } finally {
    await s.close()
  }
})

test('the live page lists runs and draws a run timeline that fills in over SSE (headless Chromium)', async (t) => {
  const s = await serve({ store: `sqlite:${join(mkdtempSync(join(tmpdir(), 'arcflow-page-')), 'a.db')}` })
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] })
  try {
    const { body } = await api(`${s.url}/v1/runs`, { body: { workflow: 'gated', input: { label: 'page' } } })
    await s.gate.reached(1)
    const page = await browser.newPage()
    await page.goto(`${s.url}/#token=${TOKEN}&run=${body.id}`)
    await page.locator(`#runs tr[data-id="${body.id}"]`).waitFor()
    await page.locator('#timeline .lane').first().waitFor()
    t.is(await page.locator('#run-status').textContent(), 'running')
    const lanesBefore = await page.locator('#timeline .lane').count()
    s.gate.release()
    await s.gate.reached(2)
    s.gate.release()
    await page.locator('#run-status.succeeded').waitFor()
    const lanesAfter = await page.locator('#timeline .lane').count()
    t.true(lanesAfter > lanesBefore, `the timeline filled in (${lanesBefore} → ${lanesAfter} lanes)`)
    t.is(lanesAfter, 3)
    t.true(Number(await page.locator('#event-count').textContent()) >= 8)
  } finally {
    await browser.close()
    await s.close()
  }
})
