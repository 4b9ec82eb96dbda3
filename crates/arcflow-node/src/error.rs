//! The one mapping from core errors to JavaScript errors. The JS error's
//! `code` is the core error's stable code; its message is a JSON payload
//! with the details (`lib/errors.ts` turns it into the matching `Error`
//! subclass, with a `cause` chain). A panic never reaches JavaScript: it
//! becomes an `ARCFLOW_INTERNAL` error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use arcflow_core::Error as CoreError;
use serde_json::{json, Map, Value as Json};

/// The `code` property of errors thrown by the binding.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

pub type JsError = napi::Error<Code>;
pub type JsResult<T> = std::result::Result<T, JsError>;

/// Runs `f`, mapping its error and any panic to a JavaScript error.
pub fn guard<T>(f: impl FnOnce() -> arcflow_core::Result<T>) -> JsResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_js(&err)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(to_js(&CoreError::Internal(format!("panic in native code: {what}"))))
        }
    }
}

pub fn to_js(err: &CoreError) -> JsError {
    napi::Error::new(Code(err.code()), payload(err).to_string())
}

/// An error as data, for answers that carry errors instead of throwing:
/// `{ "code": ..., "payload": ... }`, which `lib/errors.ts` reads the same way.
pub fn to_json_value(err: &CoreError) -> Json {
    json!({ "code": err.code(), "payload": payload(err) })
}

/// The JSON payload of an error: message, details, and the `source()` chain.
fn payload(err: &CoreError) -> Json {
    let mut payload = Map::new();
    payload.insert("message".into(), json!(err.to_string()));
    if let CoreError::Expression(e) = err {
        payload.insert("kind".into(), json!(e.kind.as_str()));
        payload.insert("detail".into(), json!(e.detail));
        payload.insert("template".into(), json!(e.template));
        payload.insert("path".into(), json!(e.path));
        payload.insert("line".into(), json!(e.line));
        payload.insert("column".into(), json!(e.column));
        payload.insert("range".into(), json!(e.range.map(|(s, e)| [s, e])));
    }
    if let CoreError::Context { path: Some(path), .. } = err {
        payload.insert("path".into(), json!(path));
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        causes.push(Json::String(cause.to_string()));
        source = cause.source();
    }
    payload.insert("causes".into(), Json::Array(causes));
    Json::Object(payload)
}
