//! A compiled template. A string that is exactly one `{{ expr }}` compiles
//! to an expression and evaluates to a typed value; a string with no
//! template syntax is kept as it is; anything else renders to a string.

use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Environment, Expression};

use super::env::{environment, MAX_OUTPUT_BYTES};
use super::materialize::materialize;
use super::path_expr::PathExpr;
use super::prescan::{check_expression_source, check_template};
use super::shape;
use crate::context::WorkflowContext;
use crate::error::{Error, ExpressionError, ExpressionErrorKind, Result};
use crate::scope::Scope;

#[derive(Debug, Clone, Copy, Default)]
pub struct CompileOptions {
    /// Undefined names and attributes are errors instead of `null`.
    pub strict: bool,
}

/// What a template renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// No template syntax: renders to its own text.
    Literal,
    /// Exactly one `{{ expr }}` (or a bare condition): renders to a typed value.
    Expression,
    /// Text mixed with template syntax: renders to a string.
    Text,
}

/// The one name a text template is stored under in its own environment.
const TEXT_NAME: &str = "template";

enum Body {
    Literal(Value),
    /// `offset`: where the expression's text starts in the source, so that
    /// error positions point into the string the user wrote.
    Expression { expr: Expression<'static, 'static>, offset: usize, path: Option<PathExpr> },
    /// A text template owns a copy of the shared environment holding just
    /// itself: minijinja's `Template` borrows its environment and source, and
    /// this is the safe way to own both.
    Text(Box<Environment<'static>>),
}

pub struct Template {
    source: String,
    strict: bool,
    body: Body,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template").field("source", &self.source).field("kind", &self.kind()).finish()
    }
}

/// Compiles a template.
///
/// ```
/// use arcflow_core::{compile, CompileOptions, TemplateKind};
/// assert_eq!(compile("{{ 1 + 2 }}", CompileOptions::default()).unwrap().kind(), TemplateKind::Expression);
/// assert_eq!(compile("n = {{ 1 + 2 }}", CompileOptions::default()).unwrap().kind(), TemplateKind::Text);
/// ```
pub fn compile(source: &str, options: CompileOptions) -> Result<Template> {
    let body = if !has_template_syntax(source) {
        Body::Literal(Value::from(source))
    } else if let Some((inner, offset)) = single_expression(source) {
        compile_expression(source, inner, offset, options.strict)?
    } else {
        check_template(source)?;
        shape::check_template(source)?;
        let mut env = environment(options.strict).clone();
        env.add_template_owned(TEXT_NAME, source.to_owned())
            .map_err(|e| ExpressionError::from_minijinja(e, source, 0))?;
        Body::Text(Box::new(env))
    };
    Ok(Template { source: source.to_owned(), strict: options.strict, body })
}

/// Compiles a condition: `{{ expr }}` or a bare expression (`x > 1`).
/// Text around an expression is an error, since it could only ever be a
/// (truthy) string.
pub fn compile_condition(source: &str, options: CompileOptions) -> Result<Template> {
    let body = if !has_template_syntax(source) {
        compile_expression(source, source, 0, options.strict)?
    } else if let Some((inner, offset)) = single_expression(source) {
        compile_expression(source, inner, offset, options.strict)?
    } else {
        return Err(ExpressionError::new(
            ExpressionErrorKind::Syntax,
            "a condition must be a single expression, like {{ x > 1 }} or x > 1",
            source,
        )
        .into());
    };
    Ok(Template { source: source.to_owned(), strict: options.strict, body })
}

fn compile_expression(source: &str, inner: &str, offset: usize, strict: bool) -> Result<Body> {
    if inner.trim().is_empty() {
        return Err(ExpressionError::new(ExpressionErrorKind::Syntax, "empty expression", source).into());
    }
    check_expression_source(inner, source)?;
    shape::check_expression(inner, source)?;
    let expr = environment(strict)
        .compile_expression_owned(inner.to_owned())
        .map_err(|e| ExpressionError::from_minijinja(e, source, offset))?;
    Ok(Body::Expression { expr, offset, path: PathExpr::parse(inner) })
}

fn has_template_syntax(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// The inside of a string that is exactly one `{{ expr }}` (surrounding
/// whitespace allowed), with its byte offset.
fn single_expression(source: &str) -> Option<(&str, usize)> {
    let lead = source.len() - source.trim_start().len();
    let trimmed = source.trim();
    let mut inner = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    let mut offset = lead + 2;
    if let Some(rest) = inner.strip_prefix(['-', '+']) {
        inner = rest;
        offset += 1;
    }
    inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    let nested = ["{{", "}}", "{%", "%}", "{#", "#}"].iter().any(|m| inner.contains(m));
    (!nested).then_some((inner, offset))
}

impl Template {
    /// minijinja's undeclared variables, with nested attribute lookups
    /// (`tasks.fetch.result`); none for a literal.
    pub(super) fn undeclared_names(&self) -> std::collections::HashSet<String> {
        match &self.body {
            Body::Literal(_) => Default::default(),
            Body::Expression { expr, .. } => expr.undeclared_variables(true),
            Body::Text(env) => env.get_template(TEXT_NAME).map(|t| t.undeclared_variables(true)).unwrap_or_default(),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn kind(&self) -> TemplateKind {
        match self.body {
            Body::Literal(_) => TemplateKind::Literal,
            Body::Expression { .. } => TemplateKind::Expression,
            Body::Text(_) => TemplateKind::Text,
        }
    }

    /// Renders against a context. Expressions give typed values (plain
    /// data, never live views of the context); text gives a string.
    pub fn render(&self, ctx: &WorkflowContext) -> Result<Value> {
        match &self.body {
            Body::Literal(v) => Ok(v.clone()),
            Body::Expression { expr, offset, path } => {
                if let Some(value) = path.as_ref().and_then(|p| p.resolve(ctx)) {
                    return Ok(value);
                }
                let value = expr.eval(scope(ctx)).map_err(|e| self.error(e, *offset))?;
                if value.is_undefined() && self.strict {
                    return Err(self.undefined_result());
                }
                materialize(value, &self.source)
            }
            Body::Text(env) => {
                let template = env.get_template(TEXT_NAME).map_err(|e| self.error(e, 0))?;
                let out = template.render(scope(ctx)).map_err(|e| self.error(e, 0))?;
                if out.len() > MAX_OUTPUT_BYTES {
                    return Err(ExpressionError::new(
                        ExpressionErrorKind::Limit,
                        format!("output of {} bytes is over the limit of {MAX_OUTPUT_BYTES} bytes", out.len()),
                        &self.source,
                    )
                    .into());
                }
                Ok(Value::from(out))
            }
        }
    }

    /// Evaluates as a condition, with Jinja truthiness: `false`, `none`,
    /// undefined (lenient mode), `0`, `0.0`, `""`, `[]` and `{}` are false;
    /// everything else is true.
    pub fn is_true(&self, ctx: &WorkflowContext) -> Result<bool> {
        match &self.body {
            Body::Expression { expr, offset, path } => {
                if let Some(value) = path.as_ref().and_then(|p| p.resolve(ctx)) {
                    return Ok(value.is_true());
                }
                let value = expr.eval(scope(ctx)).map_err(|e| self.error(e, *offset))?;
                if value.is_undefined() && self.strict {
                    return Err(self.undefined_result());
                }
                Ok(value.is_true())
            }
            _ => Ok(self.render(ctx)?.is_true()),
        }
    }

    fn error(&self, e: minijinja::Error, offset: usize) -> Error {
        ExpressionError::from_minijinja(e, &self.source, offset).into()
    }

    fn undefined_result(&self) -> Error {
        ExpressionError::new(ExpressionErrorKind::Undefined, "the expression is undefined", &self.source).into()
    }
}

fn scope(ctx: &WorkflowContext) -> Value {
    Value::from_dyn_object(Arc::new(Scope(ctx.clone())))
}
