// Shared data for the suites: realistic task results (~10 KB of JSON each),
// generated per call so no two results share objects (structuredClone would
// copy a shared object only once and flatter the baseline).
'use strict'

const REGIONS = ['eu-west', 'us-east', 'ap-south', 'sa-east']

/** `{ rows: [...] }` with `rows` objects of a few string/number fields; ~10 KB as JSON. */
function taskResult(seed = 0, rows = 85) {
  return {
    rows: Array.from({ length: rows }, (_, i) => {
      const id = seed * 1000 + i
      return {
        id,
        name: `customer-${id}`,
        email: `customer${id}@example.com`,
        region: REGIONS[id % REGIONS.length],
        score: Math.round(((id * 37) % 1000) / 10 * 100) / 100,
        active: id % 3 !== 0,
      }
    }),
  }
}

/** The same workflow state twice: as a plain JS object and as the fields to load a WorkflowContext. */
function contextData(taskCount) {
  const data = {
    input: { retries: 3, urls: ['https://api.example.com/a', 'https://api.example.com/b'] },
    vars: { token: 'secret-token', total: 12 },
    tasks: {},
  }
  for (let t = 0; t < taskCount; t++) data.tasks[`task${t}`] = { result: taskResult(t) }
  return data
}

/** Loads `contextData(...)` into a WorkflowContext. */
function loadContext(WorkflowContext, data) {
  const ctx = new WorkflowContext({ input: data.input, vars: data.vars })
  for (const [name, { result }] of Object.entries(data.tasks)) ctx.setTaskResult(name, result)
  return ctx
}

module.exports = { taskResult, contextData, loadContext }
