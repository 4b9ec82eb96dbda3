//! A workflow as the core runs it: the task graph with its compiled
//! templates ([`FlowGraph`]), and the state of one run over it
//! ([`RunState`]). The engine crosses into the core once per step: a run's
//! start, an attempt's completion, a retry ([`RunState::complete_task`] and
//! its siblings in `step.rs`), each answering an [`Answer`]. Durable runs
//! journal as they go ([`Journal`]) and resume from it ([`Resumed`]).

mod answer;
mod billing;
mod graph;
mod items;
mod journal;
mod pending;
mod resume;
mod resume_note;
mod run;
mod signals;
mod step;

pub use answer::{Ack, Answer, Charge, Completion, Input, Scheduled};
pub use billing::Billing;
pub use graph::{FlowGraph, ItemsSource, Join, Target, TaskKind, TaskNode, Transition, DEFAULT_STEP_LIMIT, MAX_STEP_LIMIT};
pub use items::ItemEnd;
pub use journal::{Journal, DEFAULT_SNAPSHOT_EVERY};
pub use pending::PendingActivation;
pub use resume::{payload_value, Resumed};
pub use run::{set_system_values, Next, RunState};
pub use signals::{queued_signals, signal_stored, SIGNAL_RECEIVED, SIGNAL_STORED, SIGNAL_TAKEN};
pub use step::RunStart;
