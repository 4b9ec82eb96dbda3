//! Compiled templates: `Template` (one string) and `JsonTemplate` (a JSON
//! structure whose strings may be templates).

use std::sync::Arc;

use arcflow_core::{CompileOptions, TemplateKind};
use napi_derive::napi;

use crate::error::{guard, JsError};

/// What a template reads by name (see `arcflow_core::References`), with
/// where it sits in a JSON template (`path`, `""` for the root or a plain template).
#[napi(object)]
pub struct TemplateReferences {
    pub path: String,
    pub tasks: Vec<String>,
    pub vars: Vec<String>,
}

impl TemplateReferences {
    fn new(path: String, refs: arcflow_core::References) -> Self {
        TemplateReferences { path, tasks: refs.tasks, vars: refs.vars }
    }
}

#[napi]
pub struct NativeTemplate {
    pub(crate) inner: Arc<arcflow_core::Template>,
}

#[napi]
impl NativeTemplate {
    /// `condition`: compile as a condition (a bare expression is allowed,
    /// text around an expression is not).
    #[napi(constructor)]
    pub fn new(source: String, strict: bool, condition: bool) -> Result<Self, JsError> {
        let options = CompileOptions { strict };
        let compiled = if condition {
            guard(|| arcflow_core::compile_condition(&source, options))?
        } else {
            guard(|| arcflow_core::compile(&source, options))?
        };
        Ok(NativeTemplate { inner: Arc::new(compiled) })
    }

    /// `literal`, `expression` or `text`.
    #[napi(getter)]
    pub fn kind(&self) -> &'static str {
        match self.inner.kind() {
            TemplateKind::Literal => "literal",
            TemplateKind::Expression => "expression",
            TemplateKind::Text => "text",
        }
    }

    #[napi(getter)]
    pub fn source(&self) -> String {
        self.inner.source().to_owned()
    }

    /// The tasks (`tasks.NAME`, `task('NAME')`) and variables (`vars.NAME`) it reads.
    #[napi]
    pub fn references(&self) -> TemplateReferences {
        TemplateReferences::new(String::new(), self.inner.references())
    }
}

#[napi]
pub struct NativeJsonTemplate {
    pub(crate) inner: Arc<arcflow_core::JsonTemplate>,
}

#[napi]
impl NativeJsonTemplate {
    #[napi(constructor)]
    pub fn new(json: String, strict: bool) -> Result<Self, JsError> {
        let inner = guard(|| {
            let value = arcflow_core::value::from_json(&json)?;
            arcflow_core::JsonTemplate::compile(&value, CompileOptions { strict })
        })?;
        Ok(NativeJsonTemplate { inner: Arc::new(inner) })
    }

    #[napi(getter)]
    pub fn is_static(&self) -> bool {
        self.inner.is_static()
    }

    /// What each of its templates reads by name, with its path.
    #[napi]
    pub fn references(&self) -> Vec<TemplateReferences> {
        self.inner.references().into_iter().map(|(path, refs)| TemplateReferences::new(path, refs)).collect()
    }
}
