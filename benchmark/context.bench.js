// clone() and withItem() should cost the same whatever the context holds
// (they copy a pointer). Measured at three sizes, beside what plain JS
// would do: structuredClone for a real copy, a spread for a per-item view.
'use strict'
const path = require('node:path')
const b = require('benny')
const { WorkflowContext, compile } = require('../dist/index.js')
const { contextData, loadContext } = require('./fixtures.js')

// ~10 KB task results: 0, 100 (~1 MB) and 500 (~5 MB) of them.
const SIZES = [['empty', 0], ['1 MB', 100], ['5 MB', 500]]
const urlTemplate = compile('{{ item.url }}')
const item = { url: 'https://api.example.com/items/7', tag: 'beta' }

// Results go to a module-level sink so V8 cannot drop an unused allocation.
let sink
let i = 0

const fast = []
const slow = []
for (const [label, tasks] of SIZES) {
  const data = contextData(tasks)
  const ctx = loadContext(WorkflowContext, data)
  fast.push(
    b.add(`clone [${label}]`, () => { sink = ctx.clone() }),
    b.add(`withItem [${label}]`, () => { sink = ctx.withItem(item, (i = (i + 1) & 1023)) }),
    // withItem defers encoding the item to the first read; this is the whole
    // per-item cost of a first read (item encoded, crossed, rendered).
    b.add(`withItem + render('{{ item.url }}') [${label}]`, () => {
      sink = ctx.withItem(item, (i = (i + 1) & 1023)).render(urlTemplate)
    }),
    // Note: Node 20's V8 takes a slow path (~1 µs) for a spread followed by
    // more keys; `{ input: o.input, vars: o.vars, tasks: o.tasks, item, index }` is ~20 ns.
    b.add(`plain JS {...obj, item, index} [${label}]`, () => { sink = { ...data, item, index: (i = (i + 1) & 1023) } }),
    b.add(`plain JS { input, vars, tasks, item, index } [${label}]`, () => {
      sink = { input: data.input, vars: data.vars, tasks: data.tasks, item, index: (i = (i + 1) & 1023) }
    }),
  )
  slow.push(b.add(`plain JS structuredClone [${label}]`, () => { sink = structuredClone(data) }))
}

module.exports = b.suite(
  'context',
  // Short cases keep the suite well under 2 minutes; 5 samples is enough for the slow ones.
  // The fast cases take tens of ns: longer runs average out GC pauses.
  b.configure({ cases: { minSamples: 20, maxTime: 2 }, minDisplayPrecision: 2 }),
  ...fast,
  // Last, so the garbage they leave does not disturb the fast cases.
  ...slow,
  b.cycle(),
  b.complete(() => void sink),
  b.save({ file: 'context', folder: path.join(__dirname, 'results'), format: 'json', details: true }),
)
