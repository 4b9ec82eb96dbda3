//! `renderJson`: a JSON structure whose strings may be templates, compiled
//! once. Untemplated subtrees are kept as they are and cost nothing to
//! render; keys are never templates.

use std::sync::Arc;

use minijinja::value::{Value, ValueKind};

use super::template::{compile, CompileOptions, Template, TemplateKind};
use crate::context::WorkflowContext;
use crate::error::{Error, Result};

pub struct JsonTemplate {
    root: Node,
}

enum Node {
    Static(Value),
    Template(Arc<Template>),
    Seq(Vec<Node>),
    Map(Vec<(Value, Node)>),
}

impl JsonTemplate {
    /// Compiles every string in `value` as a template. Fails on the first
    /// bad template, naming where it sits (`headers.auth`, `items[2]`).
    pub fn compile(value: &Value, options: CompileOptions) -> Result<JsonTemplate> {
        Ok(JsonTemplate { root: compile_node(value, options, &mut String::new())? })
    }

    /// True when nothing in the structure is a template.
    pub fn is_static(&self) -> bool {
        matches!(self.root, Node::Static(_))
    }

    pub fn render(&self, ctx: &WorkflowContext) -> Result<Value> {
        render_node(&self.root, ctx)
    }
}

fn compile_node(value: &Value, options: CompileOptions, path: &mut String) -> Result<Node> {
    match value.kind() {
        ValueKind::String => {
            let source = value.as_str().expect("a string value");
            let template = compile(source, options).map_err(|e| at_path(e, path))?;
            Ok(match template.kind() {
                TemplateKind::Literal => Node::Static(value.clone()),
                _ => Node::Template(Arc::new(template)),
            })
        }
        ValueKind::Seq => {
            let mut children = Vec::with_capacity(value.len().unwrap_or(0));
            for (i, child) in value.try_iter().map_err(internal)?.enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                children.push(compile_node(&child, options, path)?);
                path.truncate(len);
            }
            Ok(if children.iter().all(|c| matches!(c, Node::Static(_))) {
                Node::Static(value.clone())
            } else {
                Node::Seq(children)
            })
        }
        ValueKind::Map => {
            let mut entries = Vec::with_capacity(value.len().unwrap_or(0));
            for key in value.try_iter().map_err(internal)? {
                let child = value.get_item(&key).map_err(internal)?;
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.to_string());
                entries.push((key, compile_node(&child, options, path)?));
                path.truncate(len);
            }
            Ok(if entries.iter().all(|(_, c)| matches!(c, Node::Static(_))) {
                Node::Static(value.clone())
            } else {
                Node::Map(entries)
            })
        }
        _ => Ok(Node::Static(value.clone())),
    }
}

/// Renders without building any path; a failing template's path is put
/// together on the way out, segment by segment.
fn render_node(node: &Node, ctx: &WorkflowContext) -> Result<Value> {
    match node {
        Node::Static(v) => Ok(v.clone()),
        Node::Template(t) => t.render(ctx),
        Node::Seq(children) => {
            let mut out = Vec::with_capacity(children.len());
            for (i, child) in children.iter().enumerate() {
                out.push(render_node(child, ctx).map_err(|e| at_path(e, &format!("[{i}]")))?);
            }
            Ok(Value::from(out))
        }
        Node::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (key, child) in entries {
                out.push((key.clone(), render_node(child, ctx).map_err(|e| at_path(e, &key.to_string()))?));
            }
            Ok(Value::from_pairs(out))
        }
    }
}

fn at_path(e: Error, path: &str) -> Error {
    match e {
        Error::Expression(inner) if !path.is_empty() => Error::Expression(inner.at_path(path)),
        other => other,
    }
}

fn internal(e: minijinja::Error) -> Error {
    Error::Internal(format!("walking a JSON template: {e}"))
}
