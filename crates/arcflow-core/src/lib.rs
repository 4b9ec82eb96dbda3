//! arcflow's native core: the shared workflow context and the expression
//! engine. Pure Rust, no napi: everything here is testable with `cargo test`.

mod context;
mod error;
mod error_data;
mod expr;
mod lookup;
pub mod flow;
pub mod meter;
mod path;
pub mod queue;
mod scope;
pub mod store;
pub mod time;
pub mod value;

pub use context::{OutcomeStatus, TaskOutcome, WorkflowContext, CONTEXT_DOCUMENT_VERSION};
pub use error::{Error, ExpressionError, ExpressionErrorKind, Result};
pub use error_data::{error_data, error_payload};
pub use expr::{
    compile, compile_condition, CompileOptions, JsonTemplate, References, Template,
    TemplateKind, FUEL_PER_RENDER, MAX_BUILT_DEPTH, MAX_EXPRESSION_DEPTH, MAX_REFS, MAX_REPEAT, MAX_TEMPLATE_BYTES, MAX_VALUE_BYTES,
};
pub use minijinja::Value;
pub use path::{parse_path, PathSegment};
