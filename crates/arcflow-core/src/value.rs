//! Workflow data crosses into the core as JSON text and is held as
//! `minijinja::Value`: maps, lists and strings inside it are reference
//! counted, so handing a value to a template or a per-item context never
//! copies it.

use minijinja::Value;

use crate::error::{Error, Result};

/// Deepest nesting accepted for workflow data. It sits below serde_json's
/// recursion limit (128) so that a value inside an exported context document
/// (four levels down) always imports again, and it keeps every recursive walk
/// over a value far from the end of the stack.
pub const MAX_DEPTH: usize = 100;

/// Parses JSON text into a value.
///
/// ```
/// let v = arcflow_core::value::from_json(r#"{"a": [1, 2.5, "x"]}"#).unwrap();
/// assert_eq!(v.get_attr("a").unwrap().len(), Some(3));
/// ```
pub fn from_json(text: &str) -> Result<Value> {
    parse(text)
}

/// Parses JSON text into any deserialisable type, with the same depth limit
/// and errors as [`from_json`].
pub fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    check_depth(text)?;
    serde_json::from_str(text).map_err(|e| {
        if e.to_string().starts_with("recursion limit exceeded") {
            Error::invalid_value(format!(
                "value is nested deeper than {MAX_DEPTH} levels (at line {}, column {})",
                e.line(),
                e.column()
            ))
        } else {
            Error::invalid_value(format!("value is not valid JSON: {e}"))
        }
    })
}

/// Rejects JSON text nested deeper than [`MAX_DEPTH`] with one cheap scan,
/// before the parser recurses.
fn check_depth(text: &str) -> Result<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (offset, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Error::invalid_value(format!(
                        "value is nested deeper than {MAX_DEPTH} levels (at byte {offset})"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Serialises a value to JSON text. Undefined becomes `null`, as do NaN and
/// infinities a template may compute.
pub fn to_json(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid_value(format!("value cannot be written as JSON: {e}")))
}

/// Bytes a value holds, roughly: its strings plus a fixed cost per node.
/// What the binding reports to V8 as native memory (an estimate is enough:
/// V8 only uses it to decide when to collect). It looks at no more than
/// [`SIZE_SAMPLE`] nodes and extrapolates the rest of a long list or map
/// from the part it saw: setting a large shared value (a variable holding a
/// 1 MB catalog) stays O(1), as the context promises.
///
/// ```
/// let v = arcflow_core::value::from_json(r#"{"name":"Ada"}"#).unwrap();
/// assert!(arcflow_core::value::approx_size(&v) >= 7);
/// ```
pub fn approx_size(value: &Value) -> usize {
    let mut budget = SIZE_SAMPLE;
    sized(value, &mut budget)
}

/// Nodes [`approx_size`] visits at most.
pub const SIZE_SAMPLE: usize = 64;

fn sized(value: &Value, budget: &mut usize) -> usize {
    use minijinja::value::ValueKind;
    // a `Value` plus its share of the map or list that holds it
    const NODE: usize = 32;
    *budget = budget.saturating_sub(1);
    NODE + match value.kind() {
        ValueKind::String => value.as_str().map_or(0, str::len),
        ValueKind::Bytes => value.as_bytes().map_or(0, <[u8]>::len),
        kind @ (ValueKind::Seq | ValueKind::Map) => {
            let len = value.len().unwrap_or(0);
            let Ok(children) = value.try_iter() else { return NODE };
            let (mut total, mut seen) = (0usize, 0usize);
            for child in children {
                if *budget == 0 {
                    break;
                }
                total += sized(&child, budget);
                if kind == ValueKind::Map {
                    total += value.get_item(&child).map_or(0, |v| sized(&v, budget));
                }
                seen += 1;
            }
            // the children not visited are taken to be like those that were
            if seen == 0 { len * NODE } else { total / seen * len.max(seen) }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_size_grows_with_the_text_a_value_holds() {
        let small = approx_size(&from_json(r#"{"a":"x"}"#).unwrap());
        let large = approx_size(&from_json(&format!(r#"{{"a":"{}"}}"#, "x".repeat(10_000))).unwrap());
        assert!(large >= 10_000 && large < 10_200, "{large}");
        assert!(small < 200, "{small}");
        let rows = format!("[{}]", vec![r#"{"id":1,"name":"abc"}"#; 1000].join(","));
        let size = approx_size(&from_json(&rows).unwrap());
        assert!(size >= rows.len(), "{size} < {}", rows.len());
    }

    #[test]
    fn approx_size_of_a_large_value_samples_it_and_extrapolates() {
        let rows = format!("[{}]", vec![r#"{"id":1,"name":"abcdefgh"}"#; 100_000].join(","));
        let size = approx_size(&from_json(&rows).unwrap());
        // within a small factor of the text, from at most SIZE_SAMPLE nodes
        assert!(size >= rows.len() && size < rows.len() * 8, "{size} vs {}", rows.len());
    }

    #[test]
    fn json_round_trip_keeps_types_order_and_special_keys() {
        let text = r#"{"z":1,"a":2.5,"__proto__":{"polluted":true},"constructor":null,"s":"é","l":[true,false,null],"big":18446744073709551615,"f":0.1}"#;
        let value = from_json(text).unwrap();
        assert_eq!(to_json(&value).unwrap(), text);
    }

    #[test]
    fn nesting_past_the_limit_is_a_clear_error() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = from_json(&deep).unwrap_err();
        assert_eq!(err.code(), "ARCFLOW_INVALID_VALUE");
        assert!(err.to_string().contains("nested deeper than 100"), "{err}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(from_json(&ok).is_ok());
        let too_deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(from_json(&too_deep).is_err());
        // brackets inside strings do not count
        assert!(from_json(&format!("[{:?}]", "[{".repeat(500))).is_ok());
        assert!(from_json(r#"["\"[[[[", 1]"#).is_ok());
    }

    #[test]
    fn floats_round_trip_exactly() {
        for f in [0.1f64, 1.0 / 3.0, 5e-324, 1.7976931348623157e308, -0.0, 123456789.123456789] {
            let text = serde_json::to_string(&f).unwrap();
            let back: f64 = serde_json::from_str(&to_json(&from_json(&text).unwrap()).unwrap()).unwrap();
            assert_eq!(back.to_bits(), f.to_bits(), "{f}");
        }
    }
}
