//! `renderJson`: a JSON structure whose strings may be templates, compiled
//! once. Untemplated subtrees are kept as they are and cost nothing to
//! render; keys are never templates.

use std::sync::{Arc, OnceLock};

use minijinja::value::{Value, ValueKind};

use super::template::{compile, CompileOptions, Template, TemplateKind};
use crate::context::WorkflowContext;
use crate::error::{Error, Result};

pub struct JsonTemplate {
    root: Node,
}

enum Node {
    /// The value, and its JSON text once someone asked for it.
    Static(Value, OnceLock<String>),
    Template(Arc<Template>),
    Seq(Vec<Node>),
    /// Keys with their JSON text (`"url"`), made at compile time.
    Map(Vec<(Value, String, Node)>),
}

fn fixed(value: Value) -> Node {
    Node::Static(value, OnceLock::new())
}

impl JsonTemplate {
    /// Compiles every string in `value` as a template. Fails on the first
    /// bad template, naming where it sits (`headers.auth`, `items[2]`).
    pub fn compile(value: &Value, options: CompileOptions) -> Result<JsonTemplate> {
        Ok(JsonTemplate { root: compile_node(value, options, &mut String::new())? })
    }

    /// Calls `f` with each template of the structure and its path (as a
    /// compile error names it: `headers.auth`, `items[2]`).
    pub(super) fn each_template(&self, f: &mut dyn FnMut(&str, &Template)) {
        walk(&self.root, &mut String::new(), f);
    }

    /// True when nothing in the structure is a template.
    pub fn is_static(&self) -> bool {
        matches!(self.root, Node::Static(..))
    }

    pub fn render(&self, ctx: &WorkflowContext) -> Result<Value> {
        render_node(&self.root, ctx)
    }

    /// Renders straight to JSON text, the same text as `to_json(render())`
    /// without building the structure first (a task's input is rendered to
    /// cross to JavaScript as JSON).
    pub fn render_json(&self, ctx: &WorkflowContext) -> Result<String> {
        let mut out = Vec::with_capacity(128);
        write_node(&self.root, ctx, &mut out)?;
        String::from_utf8(out).map_err(|e| Error::Internal(format!("rendered JSON is not UTF-8: {e}")))
    }
}

fn walk(node: &Node, path: &mut String, f: &mut dyn FnMut(&str, &Template)) {
    match node {
        Node::Static(..) => {}
        Node::Template(t) => f(path, t),
        Node::Seq(children) => {
            for (i, child) in children.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(child, path, f);
                path.truncate(len);
            }
        }
        Node::Map(entries) => {
            for (key, _, child) in entries {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.to_string());
                walk(child, path, f);
                path.truncate(len);
            }
        }
    }
}

fn compile_node(value: &Value, options: CompileOptions, path: &mut String) -> Result<Node> {
    match value.kind() {
        ValueKind::String => {
            let source = value.as_str().expect("a string value");
            let template = compile(source, options).map_err(|e| at_path(e, path))?;
            Ok(match template.kind() {
                TemplateKind::Literal => fixed(value.clone()),
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
            Ok(if children.iter().all(|c| matches!(c, Node::Static(..))) {
                fixed(value.clone())
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
                let key_json = serde_json::to_string(&key).map_err(|e| Error::Internal(e.to_string()))?;
                entries.push((key, key_json, compile_node(&child, options, path)?));
                path.truncate(len);
            }
            Ok(if entries.iter().all(|(_, _, c)| matches!(c, Node::Static(..))) {
                fixed(value.clone())
            } else {
                Node::Map(entries)
            })
        }
        _ => Ok(fixed(value.clone())),
    }
}

/// Renders without building any path; a failing template's path is put
/// together on the way out, segment by segment.
fn render_node(node: &Node, ctx: &WorkflowContext) -> Result<Value> {
    match node {
        Node::Static(v, _) => Ok(v.clone()),
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
            for (key, _, child) in entries {
                out.push((key.clone(), render_node(child, ctx).map_err(|e| at_path(e, &key.to_string()))?));
            }
            Ok(Value::from_pairs(out))
        }
    }
}

fn write_json(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    serde_json::to_writer(out, value).map_err(|e| Error::invalid_value(format!("value cannot be written as JSON: {e}")))
}

/// `render_node`, written as JSON text as it goes.
fn write_node(node: &Node, ctx: &WorkflowContext, out: &mut Vec<u8>) -> Result<()> {
    match node {
        Node::Static(v, text) => {
            let text = match text.get() {
                Some(text) => text,
                None => {
                    let mut buf = Vec::new();
                    write_json(v, &mut buf)?;
                    text.get_or_init(|| String::from_utf8(buf).unwrap_or_default())
                }
            };
            out.extend_from_slice(text.as_bytes());
        }
        Node::Template(t) => write_json(&t.render(ctx)?, out)?,
        Node::Seq(children) => {
            out.push(b'[');
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_node(child, ctx, out).map_err(|e| at_path(e, &format!("[{i}]")))?;
            }
            out.push(b']');
        }
        Node::Map(entries) => {
            out.push(b'{');
            for (i, (key, key_json, child)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(key_json.as_bytes());
                out.push(b':');
                write_node(child, ctx, out).map_err(|e| at_path(e, &key.to_string()))?;
            }
            out.push(b'}');
        }
    }
    Ok(())
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
