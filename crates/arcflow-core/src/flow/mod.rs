//! A workflow as the core runs it: the task graph with its compiled
//! templates ([`FlowGraph`]), and the state of one run over it
//! ([`RunState`]). The TypeScript engine asks a run for a task's input (one
//! call) and hands back the task's outcome (one call), which records it,
//! follows the transitions and answers with what to schedule next. Durable
//! runs journal as they go ([`Journal`]) and resume from it ([`Resumed`]).

mod graph;
mod journal;
mod resume;
mod run;

pub use graph::{FlowGraph, ItemsSource, Join, Target, TaskNode, Transition};
pub use journal::{Journal, DEFAULT_SNAPSHOT_EVERY};
pub use resume::{payload_value, PendingActivation, Resumed};
pub use run::{set_system_values, Next, RunState};
