//! A workflow as the core runs it: the task graph with its compiled
//! templates ([`FlowGraph`]), and the state of one run over it
//! ([`RunState`]). The TypeScript engine asks a run for a task's input (one
//! call) and hands back the task's outcome (one call), which records it,
//! follows the transitions and answers with what to schedule next.

mod graph;
mod journal;
mod run;

pub use graph::{FlowGraph, ItemsSource, Join, Target, TaskNode, Transition};
pub use journal::Journal;
pub use run::{Next, RunState};
