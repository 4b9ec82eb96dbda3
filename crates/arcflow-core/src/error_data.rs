//! An error as data: `{ "code": ..., "payload": { message, details,
//! causes } }`, the shape `lib/errors.ts` turns into an `Error` subclass.
//! Answers and journals carry errors this way instead of throwing.

use serde_json::{json, Map, Value as Json};

use crate::error::Error;

/// `{ code, payload }` of an error.
pub fn error_data(err: &Error) -> Json {
    json!({ "code": err.code(), "payload": error_payload(err) })
}

/// The JSON payload of an error: message, details, and the `source()` chain.
pub fn error_payload(err: &Error) -> Json {
    let mut payload = Map::new();
    payload.insert("message".into(), json!(err.to_string()));
    if let Error::Expression(e) = err {
        payload.insert("kind".into(), json!(e.kind.as_str()));
        payload.insert("detail".into(), json!(e.detail));
        payload.insert("template".into(), json!(e.template));
        payload.insert("path".into(), json!(e.path));
        payload.insert("line".into(), json!(e.line));
        payload.insert("column".into(), json!(e.column));
        payload.insert("range".into(), json!(e.range.map(|(s, e)| [s, e])));
    }
    if let Error::StoreHeld { path } = err {
        payload.insert("path".into(), json!(path));
    }
    if let Error::Context { path: Some(path), .. } = err {
        payload.insert("path".into(), json!(path));
    }
    if let Error::Join { join, waiting_for, arrived, needed } = err {
        payload.insert("join".into(), json!(join));
        payload.insert("waitingFor".into(), json!(waiting_for));
        payload.insert("arrived".into(), json!(arrived));
        payload.insert("needed".into(), json!(needed));
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
