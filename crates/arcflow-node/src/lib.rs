//! Node binding for arcflow-core: conversions, `#[napi]` classes wrapping
//! core types, error mapping. Values cross as JSON text (see
//! `benchmark/codec.bench.js` for the measurement behind that choice).

// `cargo test` builds this crate without napi's registration, where the
// exported functions look unused.
#![cfg_attr(test, allow(dead_code))]

mod codec;
mod context;
mod error;
mod flow;
mod flow_ids;
mod memory;
mod meter;
mod meter_wake;
mod protocol;
mod registry;
mod run;
mod run_items;
mod run_journal;
mod run_render;
mod run_resume;
mod run_signal;
mod store;
mod store_links;
mod store_read;
mod template;
mod queue;
mod queue_listen;
mod store_fence;
