//! Templates and conditions: `{{ expr }}` in Jinja syntax, compiled once by
//! minijinja and evaluated against a [`WorkflowContext`](crate::WorkflowContext).

mod env;
mod json_template;
mod materialize;
mod path_expr;
mod references;
mod template;

pub use env::FUEL_PER_RENDER;
pub use json_template::JsonTemplate;
pub use references::References;
pub use template::{compile, compile_condition, CompileOptions, Template, TemplateKind};
