//! `NativeContext`: the shared workflow context. Values cross as JSON text;
//! getters return `null` for a missing value.

use arcflow_core::value::{from_json, to_json};
use arcflow_core::{OutcomeStatus, TaskOutcome, Value, WorkflowContext};
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::template::{NativeJsonTemplate, NativeTemplate};

#[napi]
pub struct NativeContext {
    inner: WorkflowContext,
}

fn optional_json(text: Option<String>) -> arcflow_core::Result<Value> {
    text.map_or(Ok(Value::from(())), |t| from_json(&t))
}

fn to_json_opt(value: Option<Value>) -> arcflow_core::Result<Option<String>> {
    value.map(|v| to_json(&v)).transpose()
}

#[napi]
impl NativeContext {
    #[napi(constructor)]
    pub fn new(input_json: Option<String>) -> Result<Self, JsError> {
        Ok(NativeContext { inner: WorkflowContext::new(guard(|| optional_json(input_json))?) })
    }

    #[napi(factory, js_name = "import")]
    pub fn import_document(document: String) -> Result<Self, JsError> {
        Ok(NativeContext { inner: guard(|| WorkflowContext::import(&document))? })
    }

    #[napi(js_name = "clone")]
    pub fn clone_handle(&self) -> NativeContext {
        NativeContext { inner: self.inner.clone() }
    }

    #[napi]
    pub fn with_item(&self, item_json: String, index: u32) -> Result<NativeContext, JsError> {
        let item = guard(|| from_json(&item_json))?;
        Ok(NativeContext { inner: self.inner.with_item(item, u64::from(index)) })
    }

    #[napi]
    pub fn with_outcome(
        &self,
        status: String,
        result_json: Option<String>,
        error_json: Option<String>,
    ) -> Result<NativeContext, JsError> {
        guard(|| {
            let outcome = TaskOutcome {
                status: OutcomeStatus::parse(&status)?,
                result: optional_json(result_json)?,
                error: optional_json(error_json)?,
            };
            Ok(NativeContext { inner: self.inner.with_outcome(outcome) })
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

    #[napi]
    pub fn get_task_result(&self, task: String) -> Result<Option<String>, JsError> {
        guard(|| to_json_opt(self.inner.get_task_result(&task)))
    }

    #[napi]
    pub fn get(&self, path: String) -> Result<Option<String>, JsError> {
        guard(|| to_json_opt(self.inner.get(&path)?))
    }

    #[napi]
    pub fn export(&self) -> Result<String, JsError> {
        guard(|| self.inner.export())
    }

    /// Renders a compiled template; the result as JSON text.
    #[napi]
    pub fn render(&self, template: &NativeTemplate) -> Result<String, JsError> {
        guard(|| to_json(&template.inner.render(&self.inner)?))
    }

    /// Renders a text template; the result as a string (no JSON round trip).
    #[napi]
    pub fn render_text(&self, template: &NativeTemplate) -> Result<String, JsError> {
        guard(|| {
            let value = template.inner.render(&self.inner)?;
            Ok(value.as_str().map_or_else(|| value.to_string(), str::to_owned))
        })
    }

    #[napi]
    pub fn evaluate(&self, template: &NativeTemplate) -> Result<bool, JsError> {
        guard(|| template.inner.is_true(&self.inner))
    }

    #[napi]
    pub fn render_json(&self, template: &NativeJsonTemplate) -> Result<String, JsError> {
        guard(|| to_json(&template.inner.render(&self.inner)?))
    }
}
