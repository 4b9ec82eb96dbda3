'use strict';

// LangGraph.js (@langchain/langgraph, a dev dependency) running the same
// workloads as benchmark/engine.bench.js, without a checkpointer.
// Graphs are built and compiled ONCE at module load; the exported functions only invoke.

const { StateGraph, Annotation, Send, START, END } = require('@langchain/langgraph');

// ---------------------------------------------------------------------------
// chain10: START -> t0 -> t1 -> ... -> t9 -> END, each node increments `value`.
// ---------------------------------------------------------------------------
const ValueState = Annotation.Root({
  value: Annotation(), // last-value channel (no reducer)
});

const inc = async (state) => ({ value: state.value + 1 });

const chainBuilder = new StateGraph(ValueState);
for (let i = 0; i < 10; i++) chainBuilder.addNode(`t${i}`, inc);
chainBuilder.addEdge(START, 't0');
for (let i = 0; i < 9; i++) chainBuilder.addEdge(`t${i}`, `t${i + 1}`);
chainBuilder.addEdge('t9', END);
const chainGraph = chainBuilder.compile(); // no checkpointer

async function chain10(n) {
  const out = await chainGraph.invoke({ value: n });
  return out.value;
}

// ---------------------------------------------------------------------------
// one: START -> t -> END
// ---------------------------------------------------------------------------
const oneGraph = new StateGraph(ValueState)
  .addNode('t', inc)
  .addEdge(START, 't')
  .addEdge('t', END)
  .compile();

async function one(n) {
  const out = await oneGraph.invoke({ value: n });
  return out.value;
}

// ---------------------------------------------------------------------------
// fanOut: Send API map step. START --(conditional)--> Send('work', {item, context}) x N
//         work returns { results: [item + 1] }, results reducer = concat.
// ---------------------------------------------------------------------------
const FanState = Annotation.Root({
  items: Annotation(),
  context: Annotation(),
  results: Annotation({
    reducer: (a, b) => a.concat(b),
    default: () => [],
  }),
});

const fanGraph = new StateGraph(FanState)
  // reads one field of the shared context, as the arcflow items do
  .addNode('work', async (s) => ({ results: [s.item + 1 + (s.context.customers[0].rows[0].region ? 0 : 1)] }))
  .addConditionalEdges(
    START,
    (state) => state.items.map((item) => new Send('work', { item, context: state.context })),
    ['work']
  )
  .addEdge('work', END)
  .compile();

async function fanOut(items, context, opts) {
  // The whole fan-out is ONE superstep, so the default recursionLimit (25) is never
  // hit regardless of item count. What does bite is the runner's scheduling loop,
  // which is O(N^2) in the number of concurrently pending tasks; passing
  // opts = { maxConcurrency: 10 } bounds that and makes large N roughly linear.
  const out = await fanGraph.invoke({ items, context }, opts);
  return out.results;
}

// ---------------------------------------------------------------------------
// chain10 with its SQLite checkpointer (@langchain/langgraph-checkpoint-sqlite,
// over better-sqlite3): a checkpoint is written after every step. One thread
// per run, as a service running independent runs would.
// ---------------------------------------------------------------------------
function durableChain(file) {
  const { SqliteSaver } = require('@langchain/langgraph-checkpoint-sqlite');
  const saver = SqliteSaver.fromConnString(file);
  const graph = chainBuilder.compile({ checkpointer: saver });
  let threads = 0;
  return async function chain10Durable(n) {
    const out = await graph.invoke({ value: n }, { configurable: { thread_id: `t${++threads}` } });
    return out.value;
  };
}

module.exports = { chain10, one, fanOut, durableChain };
