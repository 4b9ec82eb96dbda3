//! Renders a template against a live run's context, by the run's handle:
//! what `runContext` plus a `NativeContext` render does, without the
//! `NativeContext` object, which costs several microseconds to make and
//! finalize. A task's cache key renders this way on every attempt.

use arcflow_core::value::{from_json, to_json};
use arcflow_core::WorkflowContext;
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::registry::with_run;
use crate::template::{NativeJsonTemplate, NativeTemplate};

/// The run's context, as an item (`item_json`, `index`) sees it when it has one.
fn framed(shared: &WorkflowContext, item_json: Option<String>, index: u32) -> arcflow_core::Result<WorkflowContext> {
    Ok(match item_json {
        Some(json) => shared.with_item(from_json(&json)?, u64::from(index)),
        None => shared.clone(),
    })
}

/// Renders a compiled template with run `handle`'s context; the result as JSON text.
#[napi(js_name = "runRender")]
pub fn run_render(handle: u32, template: &NativeTemplate, item_json: Option<String>, index: u32) -> Result<String, JsError> {
    guard(|| with_run(handle, |state| to_json(&template.inner.render(&framed(state.context(), item_json, index)?)?)))
}

/// Renders a compiled JSON structure with run `handle`'s context; the result as JSON text.
#[napi(js_name = "runRenderJson")]
pub fn run_render_json(handle: u32, template: &NativeJsonTemplate, item_json: Option<String>, index: u32) -> Result<String, JsError> {
    guard(|| with_run(handle, |state| to_json(&template.inner.render(&framed(state.context(), item_json, index)?)?)))
}
