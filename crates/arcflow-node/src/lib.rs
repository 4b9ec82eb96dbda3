//! Node binding for arcflow-core: conversions, `#[napi]` classes wrapping
//! core types, error mapping. Values cross as JSON text (see
//! `benchmark/codec.bench.js` for the measurement behind that choice).

mod codec;
mod context;
mod error;
mod template;
