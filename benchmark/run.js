// Runs every benchmark/*.bench.js, one child process each (so one suite's
// heap and GC state do not skew the next), then writes
// benchmark/results/summary.md from the JSON files the suites save.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const dir = __dirname
const resultsDir = path.join(dir, 'results')
const suites = fs.readdirSync(dir).filter((f) => f.endsWith('.bench.js')).sort()

fs.mkdirSync(resultsDir, { recursive: true })
for (const file of suites) {
  // A stale file would otherwise be summarised as if it were this run's.
  fs.rmSync(path.join(resultsDir, `${path.basename(file, '.bench.js')}.json`), { force: true })
  console.log(`\n$ node benchmark/${file}`)
  execFileSync(process.execPath, [path.join(dir, file)], { stdio: 'inherit' })
}

const nsPerOp = (result) => 1e9 / result.ops
const formatNs = (ns) => (ns >= 100 ? Math.round(ns).toLocaleString('en-US') : ns.toFixed(1))

// The goal for clone()/withItem(): the 5 MB context within 1.2x of the
// empty one, and at most 150 ns per call.
function contextRatios(results) {
  const ns = (name) => {
    const found = results.find((r) => r.name === name)
    return found ? nsPerOp(found) : NaN
  }
  return ['clone', 'withItem'].map((op) => {
    const empty = ns(`${op} [empty]`)
    const big = ns(`${op} [5 MB]`)
    const ratio = big / empty
    const met = ratio <= 1.2 && big <= 150 && empty <= 150
    return `- ${op}: 5 MB / empty = ${ratio.toFixed(2)}x (${formatNs(big)} ns vs ${formatNs(empty)} ns); ` +
      `goal (<= 1.2x, <= 150 ns) ${met ? 'met' : 'NOT met'}`
  })
}

const cpus = os.cpus()
const profile = fs.readFileSync(path.join(dir, '..', 'lib', '.native-profile'), 'utf8').trim().split(' ')[0]
const lines = [
  '# arcflow benchmarks',
  '',
  `- Machine: ${cpus[0].model}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.arch()}`,
  `- Node ${process.version}, native addon: ${profile} build`,
  `- Date: ${new Date().toISOString()}`,
]
for (const file of suites) {
  const name = path.basename(file, '.bench.js')
  const summary = JSON.parse(fs.readFileSync(path.join(resultsDir, `${name}.json`), 'utf8'))
  lines.push('', `## ${name}`, '', '| case | ns per op | ± margin % | samples |', '| --- | ---: | ---: | ---: |')
  for (const r of summary.results) {
    lines.push(`| ${r.name} | ${formatNs(nsPerOp(r))} | ${r.margin.toFixed(2)} | ${r.samples} |`)
  }
  if (name === 'context') {
    const ratios = contextRatios(summary.results)
    lines.push('', ...ratios)
    console.log(`\ncontext ratios:\n${ratios.join('\n')}`)
  }
}
fs.writeFileSync(path.join(resultsDir, 'summary.md'), lines.join('\n') + '\n')
console.log(`\nWrote ${path.relative(process.cwd(), path.join(resultsDir, 'summary.md'))}`)
