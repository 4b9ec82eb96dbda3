//! Templates and conditions: `{{ expr }}` in Jinja syntax, compiled once by
//! minijinja and evaluated against a [`WorkflowContext`](crate::WorkflowContext).

mod env;
mod json_template;
mod materialize;
mod path_expr;
mod prescan;
mod references;
mod shape;
mod template;

pub use env::FUEL_PER_RENDER;
pub use materialize::MAX_VALUE_BYTES;
pub use prescan::{MAX_EXPRESSION_DEPTH, MAX_REPEAT, MAX_TEMPLATE_BYTES};
pub use json_template::JsonTemplate;
pub use references::References;
pub use shape::{MAX_BUILT_DEPTH, MAX_REFS};
pub use template::{compile, compile_condition, CompileOptions, Template, TemplateKind};
