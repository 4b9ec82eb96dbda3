//! A run's steps, each one call from the engine: start the run; complete
//! an attempt (record, settle its charge, fire transitions, schedule what
//! follows or finish, checkpoint); decide a retry; render a retry's input.
//! The core owns the step counts, the step limit and the reservations, so
//! the engine only runs actions and acts on the [`Answer`].

use super::answer::{Ack, Answer, Charge, Completion, Input, Scheduled};
use super::billing::Billing;
use super::graph::TaskKind;
use super::journal::Journal;
use super::run::{set_system_values, Next, RunState};
use crate::context::{OutcomeStatus, TaskOutcome, WorkflowContext};
use crate::error::{Error, Result};
use crate::meter::Reservation;
use crate::value::{from_json, to_json};

/// How a run starts: its context's system values and, optionally, its
/// journal and billing.
pub struct RunStart {
    pub run_id: String,
    pub started_ms: i64,
    pub journal: Option<Journal>,
    pub billing: Option<Billing>,
}

impl RunState {
    /// A new run over `graph` with `ctx`: renders the initial variables and
    /// answers with the start tasks, or [`Answer::VarsError`].
    pub fn start(graph: std::sync::Arc<super::FlowGraph>, ctx: WorkflowContext, start: RunStart) -> Result<(RunState, Answer)> {
        set_system_values(&ctx, &start.run_id, &graph.name, start.started_ms);
        let mut state = RunState::new(std::sync::Arc::clone(&graph), ctx);
        state.set_run_id(&start.run_id);
        state.set_billing(start.billing);
        if let Some(journal) = start.journal {
            state.set_journal(journal);
        }
        let answer = match state.init_vars() {
            Ok(()) => state.schedule(graph.start())?,
            Err(err) => Answer::VarsError(err),
        };
        Ok((state, answer))
    }

    /// An attempt of a task ended: records it, settles its charge, fires
    /// its transitions (with `follow`) and answers what comes next; with
    /// nothing to start and nothing in flight (`idle`), the run is complete.
    pub fn complete_task(&mut self, c: Completion<'_>) -> Result<Answer> {
        let outcome = TaskOutcome::ended(c.status, from_json(c.payload_json)?);
        self.record(c.task, c.step, c.attempt, c.status, c.payload_json)?;
        if let Some(charge) = c.charge {
            self.settle(c.task, c.step, -1, c.attempt, charge, c.status == OutcomeStatus::Succeeded)?;
        }
        let answer = match self.complete(c.task, outcome, c.follow)? {
            Next::Fail => Answer::Fail,
            Next::Unhandled => Answer::Unhandled,
            Next::Schedule(tasks) if tasks.is_empty() && c.idle && c.follow => self.finish()?,
            Next::Schedule(tasks) => self.schedule(&tasks)?,
        };
        if !answer.ends_run() {
            self.checkpoint()?;
        }
        Ok(answer)
    }

    /// Nothing is in flight and nothing to start: the run is complete
    /// ([`Answer::Complete`], or [`Answer::OutputError`]); its end is journaled.
    /// A join that still waits then can never fire: the run fails with
    /// [`Answer::JoinError`] instead of succeeding without it.
    pub fn finish(&mut self) -> Result<Answer> {
        let (answer, status, output, error) = match self.stuck_join() {
            Some(err) => {
                let error = crate::error_data(&err).to_string();
                (Answer::JoinError(err), "failed", None, Some(error))
            }
            None => match self.output().and_then(|o| o.map(|v| to_json(&v)).transpose()) {
                Ok(output) => (Answer::Complete(output.clone()), "succeeded", output, None),
                Err(err) => {
                    let error = crate::error_data(&err).to_string();
                    (Answer::OutputError(err), "failed", None, Some(error))
                }
            },
        };
        if let Some(journal) = &mut self.journal {
            journal.end(status, output, error)?;
        }
        if let Some(billing) = &mut self.billing {
            billing.release_all()?;
        }
        Ok(answer)
    }

    /// The run ended another way (failed, cancelled, timed out): a durable
    /// run journals it (`status`, `error_json`); what its attempts still
    /// reserve goes back. Answers the store's acknowledgement.
    pub fn end(&mut self, status: Option<&str>, error_json: Option<String>) -> Result<Option<Ack>> {
        if let Some(billing) = &mut self.billing {
            billing.release_all()?;
        }
        let Some(journal) = &mut self.journal else { return Ok(None) };
        let (seq, full) = match status {
            Some(status) => journal.end(status, None, error_json)?,
            None => journal.flush()?,
        };
        Ok(Some(Ack { seq, full }))
    }

    /// A failed attempt that the task's retry count allows: whether its
    /// `retry.when` allows it too; if so, a durable run journals the attempt
    /// as `retrying` (its error; for an item of `batch`, when its attempt
    /// started and the input it ran with).
    #[allow(clippy::too_many_arguments)]
    pub fn retry(&mut self, task: u32, step: u32, item: i64, attempt: u32, status: OutcomeStatus, error_json: &str, started_at: Option<i64>, batch: Option<u32>) -> Result<bool> {
        if self.graph.task(task)?.retry_when.is_some() && !self.retry_allowed(task, TaskOutcome::ended(status, from_json(error_json)?))? {
            return Ok(false);
        }
        let input = match (batch, u32::try_from(item)) {
            (Some(batch), Ok(item)) => self.take_item_input(batch, item),
            _ => None,
        };
        self.journal_execution(task, step, item, attempt, "retrying", Some(error_json), input.as_deref(), started_at)?;
        Ok(true)
    }

    /// A retry of a task (not an item) starts: its input rendered again
    /// (the context may have changed), the attempt journaled as `running`,
    /// its static cost reserved.
    pub fn attempt_input(&mut self, task: u32, step: u32, attempt: u32) -> Result<Input> {
        let input = Input::from(self.task_input(task));
        if self.journal.is_some() {
            self.journal_execution(task, step, -1, attempt, "running", None, input.rendered(), None)?;
        }
        self.reserve_for(task, input)
    }

    /// Reserves `amount` for an attempt whose cost a function set, without
    /// waiting for I/O (see [`Billing::reserve`]).
    pub fn reserve(&mut self, amount: i64) -> Result<Reservation> {
        self.billing_mut()?.reserve(amount)
    }

    /// Where an attempt's pending reservation stands: `Ok(true)` reserved,
    /// `Ok(false)` still waiting, `Err(balance)` refused.
    pub fn credit_wait(&mut self, ticket: u64) -> Result<std::result::Result<bool, i64>> {
        self.billing_mut()?.credit_wait(ticket)
    }

    /// Gives an attempt's reservation back whole (it ended late, or was cancelled).
    pub fn release(&mut self, amount: i64) -> Result<()> {
        self.billing_mut()?.release(amount)
    }

    /// Ends an attempt's reservation (see [`Billing::settle`]); a durable
    /// run queues the charge with this call's journal writes (one group,
    /// which a batch never splits: a charge never commits without its
    /// completion), an in-memory one keeps it in the meter's ledger.
    pub fn settle(&mut self, task: u32, step: u32, item: i64, attempt: u32, charge: Charge, succeeded: bool) -> Result<()> {
        let key = self.unit_key(task, step, item, attempt)?;
        let billing = self.billing.as_mut().ok_or_else(|| Error::Internal("the run is not metered".into()))?;
        let Some(write) = billing.settle(charge, succeeded, key)? else { return Ok(()) };
        match &mut self.journal {
            Some(journal) => {
                journal.push(crate::store::Write::Ledger(write));
                Ok(())
            }
            None => billing.meter.meter.record(write),
        }
    }

    /// Queues what this call journaled: the store's acknowledgement (durable runs).
    pub fn ack(&mut self) -> Result<Option<Ack>> {
        Ok(self.flush_journal()?.map(|(seq, full)| Ack { seq, full }))
    }

    fn billing_mut(&mut self) -> Result<&mut Billing> {
        self.billing.as_mut().ok_or_else(|| Error::Internal("the run is not metered".into()))
    }

    /// Tasks to start: each counted (its step), its first input rendered by
    /// its kind, its static cost reserved, journaled as started. Nothing
    /// starts when the list would pass the step limit.
    pub(crate) fn schedule(&mut self, tasks: &[u32]) -> Result<Answer> {
        let limit = self.graph.step_limit;
        let room = limit.saturating_sub(self.steps) as usize;
        if tasks.len() > room {
            return Ok(Answer::StepLimit { task: tasks[room], limit });
        }
        let mut scheduled = Vec::with_capacity(tasks.len());
        for &task in tasks {
            let input = self.first_input(task)?;
            let input = self.reserve_for(task, input)?;
            let step = self.activate_one(task, input.rendered())?;
            scheduled.push(Scheduled { task, step, input });
        }
        Ok(Answer::Schedule(scheduled))
    }

    /// The first input of an activation a resume starts again: as a
    /// schedule gives it, its static cost reserved when its first attempt
    /// is still to run (`fresh`; a retry reserves with its own input).
    pub fn resumed_input(&mut self, task: u32, fresh: bool) -> Result<Input> {
        let input = self.first_input(task)?;
        if fresh {
            self.reserve_for(task, input)
        } else {
            Ok(input)
        }
    }

    /// The one place a task's kind decides how it starts.
    fn first_input(&self, task: u32) -> Result<Input> {
        let node = self.graph.task(task)?;
        Ok(match node.kind {
            TaskKind::Action if node.has_items() => Input::Items,
            TaskKind::Action => Input::from(self.task_input(task)),
            // the engine keeps waits and sleeps: their input says what they wait for
            TaskKind::Wait | TaskKind::Sleep if node.has_items() => Input::Items,
            TaskKind::Wait | TaskKind::Sleep => Input::from(self.task_input(task)),
        })
    }

    /// A metered run reserves the static cost of an attempt that will run.
    fn reserve_for(&mut self, task: u32, input: Input) -> Result<Input> {
        let Some(billing) = &mut self.billing else { return Ok(input) };
        if !input.runs() {
            return Ok(input);
        }
        Ok(match billing.reserve_static(task)? {
            Some(Reservation::Short(balance)) => Input::Uncovered { balance },
            Some(Reservation::Pending(ticket)) => Input::Pending { ticket, input: Box::new(input) },
            _ => input,
        })
    }
}
