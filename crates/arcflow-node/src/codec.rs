//! Round trips used by the codec benchmark to compare the ways a value can
//! cross the boundary. Not part of the public API.

use napi_derive::napi;

use crate::error::{guard, JsError};

/// JSON text in, parsed into the core's value, JSON text out.
#[napi(js_name = "__codecRoundTripJson")]
pub fn codec_round_trip_json(text: String) -> Result<String, JsError> {
    guard(|| arcflow_core::value::to_json(&arcflow_core::value::from_json(&text)?))
}

/// napi's serde conversion in and out, through the core's value.
#[napi(js_name = "__codecRoundTripSerde")]
pub fn codec_round_trip_serde(value: serde_json::Value) -> Result<serde_json::Value, JsError> {
    guard(|| {
        let core = serde_json::from_value::<arcflow_core::Value>(value).map_err(|e| arcflow_core::Error::Internal(e.to_string()))?;
        serde_json::to_value(&core).map_err(|e| arcflow_core::Error::Internal(e.to_string()))
    })
}

/// Panics on purpose: proves a panic reaches JavaScript as an
/// `ARCFLOW_INTERNAL` error, not a crash.
#[napi(js_name = "__panicForTest")]
pub fn panic_for_test() -> Result<(), JsError> {
    guard(|| panic!("deliberate panic for the test suite"))
}
