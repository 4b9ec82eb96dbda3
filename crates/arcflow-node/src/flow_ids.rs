//! Sealed flows by a number, for `runStart`: a `&NativeFlow` argument
//! costs a class check and napi's borrow bookkeeping on every call, about a
//! third of an in-memory run's native start (measured), while a number
//! costs a read. `NativeFlow.register()` gives a sealed flow its number
//! once (the engine keeps it beside the flow); the flow's finalizer
//! forgets it. Per thread, like the flows themselves.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use arcflow_core::flow::FlowGraph;

use crate::flow::internal;

thread_local! {
    static FLOWS: RefCell<HashMap<u32, Arc<FlowGraph>>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u32> = const { Cell::new(0) };
}

/// Registers a sealed graph: its number (never 0, never reused while it lives).
pub(crate) fn register(graph: Arc<FlowGraph>) -> u32 {
    FLOWS.with(|flows| {
        let mut flows = flows.borrow_mut();
        let mut id = NEXT.with(|next| next.get());
        loop {
            id = id.wrapping_add(1);
            if id != 0 && !flows.contains_key(&id) {
                break;
            }
        }
        NEXT.with(|next| next.set(id));
        flows.insert(id, graph);
        id
    })
}

/// The sealed graph registered as `id`.
pub(crate) fn get(id: u32) -> arcflow_core::Result<Arc<FlowGraph>> {
    FLOWS.with(|flows| flows.borrow().get(&id).cloned()).ok_or_else(|| internal(&format!("no flow {id} is registered")))
}

/// Forgets a flow (its object was collected); runs of it keep their graph.
pub(crate) fn forget(id: u32) {
    FLOWS.with(|flows| flows.borrow_mut().remove(&id));
}
