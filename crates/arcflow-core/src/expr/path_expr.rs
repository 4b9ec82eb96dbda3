//! A fast path for the commonest template: a plain lookup such as
//! `{{ item }}`, `{{ input.urls }}`, `{{ tasks.fetch.result }}` or
//! `{{ vars.pages[0]["a key"] }}`. It reads the shared maps directly,
//! without setting up an evaluation (minijinja's per-call setup is several
//! hundred nanoseconds) and without materializing (the values it reaches
//! are plain data already). Anything it cannot answer (a missing value, a
//! view such as `{{ vars }}`, an unusual shape) goes to minijinja, which
//! then gives the exact same result or error as it always does.

use minijinja::value::{Value, ValueKind};

use crate::context::WorkflowContext;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// The key as a value, made once: a lookup by `&str` would allocate one per call.
    Key(Value),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathExpr {
    root: String,
    steps: Vec<Step>,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl PathExpr {
    /// `Some` when `source` (the inside of `{{ }}`) is a plain lookup.
    pub(crate) fn parse(source: &str) -> Option<PathExpr> {
        let s = source.trim();
        let end = s.find(['.', '[']).unwrap_or(s.len());
        let root = &s[..end];
        if !is_ident(root) {
            return None;
        }
        let mut steps = Vec::new();
        let mut rest = &s[end..];
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if !is_ident(&after[..end]) {
                    return None;
                }
                steps.push(Step::Key(Value::from(&after[..end])));
                rest = &after[end..];
            } else {
                let after = rest.strip_prefix('[')?;
                let close = after.find(']')?;
                let inner = &after[..close];
                let quoted = inner
                    .strip_prefix('"')
                    .and_then(|k| k.strip_suffix('"'))
                    .or_else(|| inner.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')));
                match quoted {
                    Some(key) if !key.contains(['\\', '"', '\'']) => steps.push(Step::Key(Value::from(key))),
                    Some(_) => return None,
                    None if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) => {
                        steps.push(Step::Index(inner.parse().ok()?))
                    }
                    None => return None,
                }
                rest = &after[close + 1..];
            }
        }
        Some(PathExpr { root: root.to_owned(), steps })
    }

    /// The value, or `None` to let minijinja answer.
    pub(crate) fn resolve(&self, ctx: &WorkflowContext) -> Option<Value> {
        let shared = &ctx.shared;
        let key = |i: usize| match self.steps.get(i) {
            Some(Step::Key(k)) => k.as_str(),
            _ => None,
        };
        let (mut value, rest) = match self.root.as_str() {
            "input" | "parameters" => (shared.input.clone(), 0),
            "item" => (ctx.item.as_ref()?.0.clone(), 0),
            "index" => (Value::from(ctx.item.as_ref()?.1), 0),
            "vars" | "ctx" => (shared.vars.get(key(0)?)?, 1),
            "system" => (shared.system.get(key(0)?)?, 1),
            "tasks" => {
                let field = key(1)?;
                let value = shared.tasks.with(key(0)?, |outcome| match field {
                    "result" => Some(outcome.result.clone()),
                    "error" => Some(outcome.error.clone()),
                    "status" => Some(Value::from(outcome.status.as_str())),
                    _ => None,
                })??;
                (value, 2)
            }
            _ => return None,
        };
        for step in &self.steps[rest..] {
            value = match (step, value.kind()) {
                (Step::Key(k), ValueKind::Map) => value.get_item(k).ok()?,
                (Step::Index(i), ValueKind::Seq) => value.get_item_by_index(*i).ok()?,
                _ => return None,
            };
        }
        (!value.is_undefined()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_lookups_only() {
        let p = PathExpr::parse(" tasks.fetch.result[0]['a key'] ").unwrap();
        assert_eq!(p.root, "tasks");
        assert_eq!(
            p.steps,
            vec![Step::Key(Value::from("fetch")), Step::Key(Value::from("result")), Step::Index(0), Step::Key(Value::from("a key"))]
        );
        for not_plain in ["a + 1", "a|length", "a.b()", "a[-1]", "a[b]", "a.", "1a", "a[\"x\\\"y\"]", "a . b", ""] {
            assert_eq!(PathExpr::parse(not_plain), None, "{not_plain}");
        }
    }
}
