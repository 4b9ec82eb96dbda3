//! `NativeContext`: the shared state of one run (one per run, never per
//! item). Per-branch state, the current item and task outcome, lives in the
//! JavaScript handle (`lib/context.ts`) and comes along with each read as a
//! frame: `itemJson`, `index`, `outcomeJson`. That keeps `clone()` and
//! `withItem()` free of boundary crossings, and the native side builds the
//! per-item view in O(1) when it is read. Values cross as JSON text;
//! getters return `null` for a missing value.
//!
//! A context this class creates (constructor, `import`) reports its size to
//! V8 when it is made and releases exactly that in its finalizer (see
//! `memory.rs`); a handle on a run's context (`runContext`) reports nothing,
//! the run already does.

use std::cell::RefCell;
use std::collections::HashMap;

use arcflow_core::value::{from_json, parse, to_json};
use arcflow_core::{TaskOutcome, Value, WorkflowContext};
use napi::bindgen_prelude::ObjectFinalize;
use napi::Env;
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::memory;
use crate::template::{NativeJsonTemplate, NativeTemplate};

#[napi(custom_finalize)]
pub struct NativeContext {
    pub(crate) inner: WorkflowContext,
}

/// What a context holds besides its values: its maps and handles.
const CONTEXT_OVERHEAD: usize = 512;

thread_local! {
    /// Bytes reported for each context this class created, by shared state:
    /// kept beside the handle so that `runContext` handles stay plain.
    static REPORTED: RefCell<HashMap<usize, i64>> = RefCell::new(HashMap::new());
}

/// A handle on a context this class created: its size is reported to V8.
fn owned(inner: WorkflowContext) -> NativeContext {
    let bytes = (CONTEXT_OVERHEAD + inner.approx_bytes()) as i64;
    memory::adjust(bytes);
    let replaced = REPORTED.with(|reported| reported.borrow_mut().insert(inner.shared_id(), bytes));
    memory::adjust(-replaced.unwrap_or(0));
    NativeContext { inner }
}

impl ObjectFinalize for NativeContext {
    fn finalize(self, _env: Env) -> napi::Result<()> {
        if let Some(bytes) = REPORTED.with(|reported| reported.borrow_mut().remove(&self.inner.shared_id())) {
            memory::adjust(-bytes);
        }
        Ok(())
    }
}

/// A run's context from its input and system values (both JSON text).
pub(crate) fn new_context(input_json: Option<&str>, system_json: Option<String>) -> arcflow_core::Result<WorkflowContext> {
    let ctx = WorkflowContext::new(input_json.map_or(Ok(Value::from(())), from_json)?);
    if let Some(json) = system_json {
        let system: std::collections::BTreeMap<String, Value> = parse(&json)?;
        for (name, value) in system {
            ctx.set_system(&name, value);
        }
    }
    Ok(ctx)
}

fn to_json_opt(value: Option<Value>) -> arcflow_core::Result<Option<String>> {
    value.map(|v| to_json(&v)).transpose()
}

impl NativeContext {
    /// The context as one handle sees it: shared state plus its frame.
    fn framed(
        &self,
        item_json: Option<String>,
        index: u32,
        outcome_json: Option<String>,
    ) -> arcflow_core::Result<WorkflowContext> {
        let mut ctx = match item_json {
            Some(json) => self.inner.with_item(from_json(&json)?, u64::from(index)),
            None => self.inner.clone(),
        };
        if let Some(json) = outcome_json {
            ctx = ctx.with_outcome(parse::<TaskOutcome>(&json)?);
        }
        Ok(ctx)
    }
}

#[napi]
impl NativeContext {
    /// `system_json`: an object of system values, set in the same call.
    #[napi(constructor)]
    pub fn new(input_json: Option<String>, system_json: Option<String>) -> Result<Self, JsError> {
        Ok(owned(guard(|| new_context(input_json.as_deref(), system_json))?))
    }

    /// Restores shared state from a document. The document's item and
    /// outcome are not kept here: `takeImportedFrame` hands them to the
    /// JavaScript handle, which owns per-branch state.
    #[napi(factory, js_name = "import")]
    pub fn import_document(document: String) -> Result<Self, JsError> {
        Ok(owned(guard(|| WorkflowContext::import(&document))?))
    }

    /// The item and outcome of an imported document, as JSON text
    /// `{ item?: { value, index }, outcome? }`; afterwards this context
    /// holds shared state only.
    #[napi]
    pub fn take_imported_frame(&mut self) -> Result<String, JsError> {
        let base = self.inner.without_frame();
        let imported = std::mem::replace(&mut self.inner, base);
        guard(|| {
            let mut out = serde_json::Map::new();
            if let Some((value, index)) = imported.item() {
                let value: serde_json::Value = parse(&to_json(&value)?)?;
                out.insert("item".into(), serde_json::json!({ "value": value, "index": index }));
            }
            if let Some(outcome) = imported.outcome() {
                let outcome = serde_json::to_value(outcome).map_err(|e| arcflow_core::Error::Internal(e.to_string()))?;
                out.insert("outcome".into(), outcome);
            }
            Ok(serde_json::Value::Object(out).to_string())
        })
    }

    #[napi]
    pub fn set_var(&self, name: String, value_json: String) -> Result<(), JsError> {
        guard(|| Ok(self.inner.set_var(&name, from_json(&value_json)?)))
    }

    #[napi]
    pub fn get_var(&self, name: String) -> Result<Option<String>, JsError> {
        guard(|| to_json_opt(self.inner.get_var(&name)))
    }

    #[napi]
    pub fn set_system(&self, name: String, value_json: String) -> Result<(), JsError> {
        guard(|| Ok(self.inner.set_system(&name, from_json(&value_json)?)))
    }

    #[napi]
    pub fn set_task_result(&self, task: String, value_json: String) -> Result<(), JsError> {
        guard(|| Ok(self.inner.set_task_result(&task, from_json(&value_json)?)))
    }

    /// Records a task's outcome (`{ status, result, error }` as JSON text).
    #[napi]
    pub fn set_task_outcome(&self, task: String, outcome_json: String) -> Result<(), JsError> {
        guard(|| Ok(self.inner.set_task_outcome(&task, parse::<TaskOutcome>(&outcome_json)?)))
    }

    #[napi]
    pub fn get_task_result(&self, task: String) -> Result<Option<String>, JsError> {
        guard(|| to_json_opt(self.inner.get_task_result(&task)))
    }

    #[napi]
    pub fn get(
        &self,
        path: String,
        item_json: Option<String>,
        index: u32,
        outcome_json: Option<String>,
    ) -> Result<Option<String>, JsError> {
        guard(|| to_json_opt(self.framed(item_json, index, outcome_json)?.get(&path)?))
    }

    #[napi]
    pub fn export(&self, item_json: Option<String>, index: u32, outcome_json: Option<String>) -> Result<String, JsError> {
        guard(|| self.framed(item_json, index, outcome_json)?.export())
    }

    /// Renders a compiled template; the result as JSON text.
    #[napi]
    pub fn render(
        &self,
        template: &NativeTemplate,
        item_json: Option<String>,
        index: u32,
        outcome_json: Option<String>,
    ) -> Result<String, JsError> {
        guard(|| to_json(&template.inner.render(&self.framed(item_json, index, outcome_json)?)?))
    }

    /// Renders a text template; the result as a string (no JSON round trip).
    #[napi]
    pub fn render_text(
        &self,
        template: &NativeTemplate,
        item_json: Option<String>,
        index: u32,
        outcome_json: Option<String>,
    ) -> Result<String, JsError> {
        guard(|| {
            let value = template.inner.render(&self.framed(item_json, index, outcome_json)?)?;
            Ok(value.as_str().map_or_else(|| value.to_string(), str::to_owned))
        })
    }

    #[napi]
    pub fn evaluate(
        &self,
        template: &NativeTemplate,
        item_json: Option<String>,
        index: u32,
        outcome_json: Option<String>,
    ) -> Result<bool, JsError> {
        guard(|| template.inner.is_true(&self.framed(item_json, index, outcome_json)?))
    }

    #[napi]
    pub fn render_json(
        &self,
        template: &NativeJsonTemplate,
        item_json: Option<String>,
        index: u32,
        outcome_json: Option<String>,
    ) -> Result<String, JsError> {
        guard(|| to_json(&template.inner.render(&self.framed(item_json, index, outcome_json)?)?))
    }
}
