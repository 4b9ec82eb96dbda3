//! The one mapping from core errors to JavaScript errors. The JS error's
//! `code` is the core error's stable code; its message is a JSON payload
//! with the details (`lib/errors.ts` turns it into the matching `Error`
//! subclass, with a `cause` chain). A panic never reaches JavaScript: it
//! becomes an `ARCFLOW_INTERNAL` error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use arcflow_core::Error as CoreError;
use serde_json::Value as Json;

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
    arcflow_core::error_data(err)
}

fn payload(err: &CoreError) -> Json {
    arcflow_core::error_payload(err)
}
