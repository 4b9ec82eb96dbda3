//! The items of a with-items activation: the list is rendered once and
//! kept until the activation ends; item inputs are rendered a window at a
//! time (each through `with_item`: O(1), never a copy of the context); a
//! durable run journals each item as it ends, with its charge and the
//! input its attempt ran with (kept from the window that rendered it: no
//! second rendering, and the context may have changed since).

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::ValueKind;
use minijinja::Value;

use super::answer::{Ack, Charge, Input};
use super::graph::ItemsSource;
use super::run::RunState;
use crate::context::OutcomeStatus;
use crate::error::{Error, Result};

/// A with-items activation's items, kept until it ends.
pub(crate) struct ItemBatch {
    list: Arc<[Value]>,
    /// Durable runs: the rendered input (JSON text) of each item whose
    /// attempt has not been journaled yet, by index; a retry's rendering
    /// replaces it.
    inputs: HashMap<u32, String>,
}

/// One item attempt that ended (after its retries, or failing for good).
#[derive(Debug)]
pub struct ItemEnd<'a> {
    pub task: u32,
    /// The activation's batch ([`RunState::begin_items`]).
    pub batch: u32,
    pub step: u32,
    pub item: u32,
    pub attempt: u32,
    pub status: OutcomeStatus,
    pub payload_json: &'a str,
    pub started_at: i64,
    pub charge: Option<Charge>,
}

impl RunState {
    /// Renders a with-items task's items and keeps them for
    /// [`RunState::item_inputs`] until [`RunState::end_items`]; returns the
    /// batch id and the items.
    pub fn begin_items(&mut self, task: u32) -> Result<(u32, Value)> {
        let node = self.graph.task(task)?;
        let items = match &node.items {
            Some(ItemsSource::Template(t)) => t.render(&self.ctx)?,
            Some(ItemsSource::Json(t)) => t.render(&self.ctx)?,
            None => return Err(Error::Internal(format!("task '{}' has no items", node.name))),
        };
        if items.kind() != ValueKind::Seq {
            return Err(Error::invalid_value(format!("with.items of task '{}' must give a list, got {}", node.name, items.kind())));
        }
        let list: Arc<[Value]> = items.try_iter().map_err(|e| Error::Internal(e.to_string()))?.collect();
        let id = self.next_batch;
        self.next_batch = self.next_batch.wrapping_add(1);
        self.batches.insert(id, ItemBatch { list, inputs: HashMap::new() });
        Ok((id, items))
    }

    /// Renders the inputs of items `from..from + count` (fewer at the end
    /// of the list), in one go: the engine asks for a window at a time (and
    /// for one item again at its retry). A durable run keeps each rendered
    /// input until the item's attempt is journaled.
    pub fn item_inputs(&mut self, task: u32, batch: u32, from: u32, count: u32) -> Result<Vec<Input>> {
        let node = self.graph.task(task)?;
        let items = self.batches.get_mut(&batch).ok_or_else(|| Error::Internal(format!("no item batch {batch}")))?;
        let list = &items.list;
        let start = (from as usize).min(list.len());
        let end = start.saturating_add(count as usize).min(list.len());
        let keep = self.journal.is_some();
        Ok((start..end)
            .map(|index| match &node.input {
                None => Input::None,
                Some(input) => {
                    let input = Input::from(input.render_json(&self.ctx.with_item(list[index].clone(), index as u64)).map(Some));
                    if let (true, Some(json)) = (keep, input.rendered()) {
                        items.inputs.insert(index as u32, json.to_owned());
                    }
                    input
                }
            })
            .collect())
    }

    /// The input an item's attempt ran with (durable runs), taken for its journal row.
    pub(crate) fn take_item_input(&mut self, batch: u32, item: u32) -> Option<String> {
        self.batches.get_mut(&batch)?.inputs.remove(&item)
    }

    pub fn end_items(&mut self, batch: u32) {
        self.batches.remove(&batch);
    }

    /// An item ended: a durable run journals it (with its charge, in the
    /// same group of writes, and the input its attempt ran with); a metered one settles its reservation.
    /// Answers the store's acknowledgement (durable runs).
    pub fn item_done(&mut self, end: ItemEnd<'_>) -> Result<Option<Ack>> {
        let status = end.status.as_str();
        let input = self.take_item_input(end.batch, end.item);
        self.journal_execution(end.task, end.step, i64::from(end.item), end.attempt, status, Some(end.payload_json), input.as_deref(), Some(end.started_at))?;
        if let Some(charge) = end.charge {
            self.settle(end.task, end.step, i64::from(end.item), end.attempt, charge, end.status == OutcomeStatus::Succeeded)?;
        }
        self.ack()
    }
}
