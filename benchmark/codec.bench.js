// The measurement behind "values cross as JSON text": a value going into
// the core and back, as JSON text (JSON.stringify / serde_json / JSON.parse)
// vs napi's serde conversion (one napi call per property and element).
'use strict'
const assert = require('node:assert/strict')
const path = require('node:path')
const b = require('benny')
const { __codecRoundTripJson, __codecRoundTripSerde } = require('../lib/native.js')
const { taskResult } = require('./fixtures.js')

const VALUES = {
  '~100 B': { id: 42, name: 'customer-42', email: 'customer42@example.com', active: true, tags: ['a', 'b'] },
  '~10 KB': taskResult(1),
}

let sink // keeps results alive so nothing is optimised away
const cases = []
for (const [label, value] of Object.entries(VALUES)) {
  const viaJson = () => JSON.parse(__codecRoundTripJson(JSON.stringify(value)))
  // Both codecs must give the value back unchanged.
  assert.deepEqual(viaJson(), value)
  assert.deepEqual(__codecRoundTripSerde(value), value)
  console.log(`${label}: ${JSON.stringify(value).length} bytes of JSON`)
  cases.push(
    b.add(`JSON text [${label}]`, () => { sink = viaJson() }),
    b.add(`napi serde [${label}]`, () => { sink = __codecRoundTripSerde(value) }),
  )
}

module.exports = b.suite(
  'codec',
  b.configure({ cases: { minSamples: 5, maxTime: 1 }, minDisplayPrecision: 2 }),
  ...cases,
  b.cycle(),
  b.complete(() => void sink),
  b.save({ file: 'codec', folder: path.join(__dirname, 'results'), format: 'json', details: true }),
)
