// LangGraph.js's human-in-the-loop on a one-node graph: the node calls
// `interrupt()`, a later `invoke(new Command({ resume }))` answers it; a
// MemorySaver keeps the thread. The peer of arcflow's `wait` + signal.
'use strict'
const { StateGraph, Annotation, MemorySaver, Command, interrupt, START, END } = require('@langchain/langgraph')

function interruptGraph() {
  const State = Annotation.Root({ answer: Annotation() })
  return new StateGraph(State)
    .addNode('approve', () => ({ answer: interrupt('approve?') }))
    .addEdge(START, 'approve')
    .addEdge('approve', END)
    .compile({ checkpointer: new MemorySaver() })
}

const resume = (payload) => new Command({ resume: payload })

module.exports = { interruptGraph, resume }
