//! Signals of a durable run, journaled as events of the run so that none is
//! lost across a crash and no schema change is needed: `signal.received`
//! (message: the name, data: the payload) when one arrives, `signal.taken`
//! (message: the name) in the same group of writes as the completion of the
//! wait that took it. What a resume delivers again is, per name, what was
//! received and not taken, in order.

use std::collections::HashMap;

use super::answer::Ack;
use super::run::RunState;
use crate::error::{Error, Result};
use crate::store::{EventRecord, Store, Write, WriteBehind};

/// The event kind a received signal is journaled as.
pub const SIGNAL_RECEIVED: &str = "signal.received";
/// The event kind a signal sent from outside the run's process is
/// journaled as (`signal_stored`): received like the others, but told apart
/// so that the worker holding the run can take exactly these into its live
/// run (the ones the run journaled itself it has already).
pub const SIGNAL_STORED: &str = "signal.stored";
/// The event kind a wait's taking of a signal is journaled as.
pub const SIGNAL_TAKEN: &str = "signal.taken";

impl RunState {
    /// A signal arrived for this run: a durable run journals it (the
    /// acknowledgement of its write); others keep nothing here. `at`: the
    /// time of the live `signal.received` event (now when not given).
    pub fn signal_received(&mut self, name: &str, payload_json: &str, at: Option<i64>) -> Result<Option<Ack>> {
        let Some(journal) = self.journal_mut() else { return Ok(None) };
        journal.event_at(SIGNAL_RECEIVED, None, name, Some(payload_json.to_owned()), at.unwrap_or_else(crate::time::now_ms))?;
        self.ack()
    }

    /// A wait took the oldest signal `name`: journaled with (not before)
    /// the completion that follows in the same call sequence, so that both
    /// commit or neither does.
    pub fn signal_taken(&mut self, name: &str) -> Result<()> {
        match self.journal_mut() {
            Some(journal) => journal.event(SIGNAL_TAKEN, None, name, None),
            None => Ok(()),
        }
    }
}

/// The signals received and not yet taken, as `(name, payload JSON)` in the
/// order they arrived, from a run's journal of events (in journal order).
pub fn queued_signals(events: &[EventRecord]) -> Vec<(String, String)> {
    let mut taken: HashMap<&str, usize> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == SIGNAL_TAKEN) {
        *taken.entry(e.message.as_str()).or_default() += 1;
    }
    let mut queued = Vec::new();
    for e in events.iter().filter(|e| e.kind == SIGNAL_RECEIVED || e.kind == SIGNAL_STORED) {
        match taken.get_mut(e.message.as_str()) {
            Some(n) if *n > 0 => *n -= 1, // taken in arrival order: the oldest go first
            _ => queued.push((e.message.clone(), e.data.clone().unwrap_or_else(|| "null".into()))),
        }
    }
    queued
}

/// A signal for durable run `run_id` that no run of this process holds:
/// the run must be in the store and not ended ([`Error::Signal`]
/// otherwise); the signal is queued as its `signal.received` event, which
/// its resume delivers. Answers the write's acknowledgement.
pub fn signal_stored(reader: &mut dyn Store, writer: &WriteBehind, run_id: &str, name: &str, payload_json: &str) -> Result<Ack> {
    let run = reader.get_run(run_id)?.ok_or_else(|| Error::Signal(format!("signal '{name}': no run {run_id:?}")))?;
    if !run.is_live() {
        return Err(Error::Signal(format!("signal '{name}': run {run_id} has ended ({})", run.status)));
    }
    let (seq, full) = writer.enqueue([Write::Event(EventRecord {
        run_id: run_id.to_owned(),
        kind: SIGNAL_STORED.to_owned(),
        task: None,
        item: None,
        attempt: None,
        message: name.to_owned(),
        data: Some(payload_json.to_owned()),
        at: crate::time::now_ms(),
    })])?;
    Ok(Ack { seq, full })
}
