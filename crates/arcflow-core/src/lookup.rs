//! Reading a context by path (`tasks.fetch.result.rows[0].name`): the path
//! starts at one of the names a template sees (`scope.rs`), so this sits
//! above both the context and its scope, and neither imports the other
//! back.

use minijinja::Value;

use crate::context::WorkflowContext;
use crate::error::{Error, Result};
use crate::path::{parse_path, PathSegment};
use crate::scope;

impl WorkflowContext {
    /// Reads a nested value: `tasks.fetch.result.rows[0].name`, `vars.total`,
    /// `item.id`. A missing value is `None`; a malformed path or an unknown
    /// root name is an error.
    pub fn get(&self, path: &str) -> Result<Option<Value>> {
        let segments = parse_path(path)?;
        let (root, rest) = segments.split_first().expect("a parsed path has a first segment");
        let PathSegment::Key(root) = root else { unreachable!("a path starts with a name") };
        let mut current = scope::root(self, root).ok_or_else(|| {
            Error::context(
                format!(
                    "unknown name {root:?} at the start of path {path:?}: expected one of {}",
                    scope::ROOT_NAMES.join(", ")
                ),
                Some(path),
            )
        })?;
        for segment in rest {
            current = match segment {
                PathSegment::Key(key) => match (current.as_object(), key.parse::<usize>()) {
                    (Some(obj), Ok(index)) if obj.repr() == minijinja::value::ObjectRepr::Seq => {
                        current.get_item_by_index(index).unwrap_or_default()
                    }
                    _ => current.get_attr(key).unwrap_or_default(),
                },
                PathSegment::Index(index) => current.get_item_by_index(*index).unwrap_or_default(),
            };
            if current.is_undefined() {
                return Ok(None);
            }
        }
        Ok((!current.is_undefined()).then_some(current))
    }
}

#[cfg(test)]
mod tests {
    use crate::context::fixture::{ctx, get};
    use crate::value::from_json;


    #[test]
    fn get_reads_nested_paths_and_misses_give_none() {
        let c = ctx().with_item(from_json(r#"{"id":7}"#).unwrap(), 2);
        assert_eq!(get(&c, "tasks.fetch.result.rows[1].name").as_deref(), Some(r#""y""#));
        assert_eq!(get(&c, "tasks.fetch.result.rows.0.name").as_deref(), Some(r#""x""#));
        assert_eq!(get(&c, "vars.total").as_deref(), Some("10"));
        assert_eq!(get(&c, "ctx.total").as_deref(), Some("10"));
        assert_eq!(get(&c, "input.urls[0]").as_deref(), Some(r#""a""#));
        assert_eq!(get(&c, "parameters.n").as_deref(), Some("3"));
        assert_eq!(get(&c, "item.id").as_deref(), Some("7"));
        assert_eq!(get(&c, "index").as_deref(), Some("2"));
        assert_eq!(get(&c, "system.run_id").as_deref(), Some(r#""r1""#));
        assert_eq!(get(&c, "tasks.fetch.status").as_deref(), Some(r#""succeeded""#));
        assert_eq!(get(&c, "tasks.nope.result"), None);
        assert_eq!(get(&c, "tasks.fetch.result.rows[9].name"), None);
        assert_eq!(get(&c, "vars.missing"), None);
        assert_eq!(get(&ctx(), "item"), None);
        assert!(c.get("nope.x").unwrap_err().to_string().contains("unknown name \"nope\""));
        assert!(c.get("vars..x").is_err());
    }
}
