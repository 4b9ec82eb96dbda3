//! `NativeFlow`: a workflow's task graph, built once at load and shared by
//! every run of it. Runs themselves live in `run.rs`.

use std::sync::Arc;

use napi::bindgen_prelude::ObjectFinalize;
use napi::Env;

use arcflow_core::flow::{FlowGraph, ItemsSource, Join, Target, TaskKind, TaskNode, Transition};
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::template::{NativeJsonTemplate, NativeTemplate};

/// Transition targets other than a task index.
const TARGET_FAIL: i32 = -1;
const TARGET_NOOP: i32 = -2;

pub(crate) fn internal(message: &str) -> arcflow_core::Error {
    arcflow_core::Error::Internal(message.to_owned())
}

#[napi(custom_finalize)]
pub struct NativeFlow {
    building: Option<FlowGraph>,
    publishes: Vec<(String, Arc<arcflow_core::JsonTemplate>)>,
    pub(crate) sealed: Option<Arc<FlowGraph>>,
    /// Its number in `flow_ids.rs` once registered (0: not yet).
    id: u32,
}

impl ObjectFinalize for NativeFlow {
    fn finalize(self, _env: Env) -> napi::Result<()> {
        if self.id != 0 {
            crate::flow_ids::forget(self.id);
        }
        Ok(())
    }
}

#[napi]
impl NativeFlow {
    #[napi(constructor)]
    pub fn new(name: String) -> Self {
        NativeFlow { building: Some(FlowGraph::new(name)), publishes: Vec::new(), sealed: None, id: 0 }
    }

    fn graph(&mut self) -> arcflow_core::Result<&mut FlowGraph> {
        self.building.as_mut().ok_or_else(|| internal("the flow is sealed"))
    }

    /// `join`: -1 none, 0 all, n > 0 that many arrivals; `retries`: the
    /// retry count (a resume's journal message says what is retried);
    /// `kind`: `action` (default), `wait` or `sleep`.
    /// Returns the index.
    #[napi]
    pub fn add_task(
        &mut self,
        name: String,
        input: Option<&NativeJsonTemplate>,
        items_template: Option<&NativeTemplate>,
        items_json: Option<&NativeJsonTemplate>,
        join: i32,
        retry_when: Option<&NativeTemplate>,
        retries: Option<u32>,
        kind: Option<String>,
    ) -> Result<u32, JsError> {
        let mut node = TaskNode::new(name);
        node.kind = match kind.as_deref() {
            None | Some("action") => TaskKind::Action,
            Some("wait") => TaskKind::Wait,
            Some("sleep") => TaskKind::Sleep,
            Some(other) => return guard(|| Err(internal(&format!("unknown task kind {other:?}")))),
        };
        node.input = input.map(|t| Arc::clone(&t.inner));
        node.items = match (items_template, items_json) {
            (Some(t), _) => Some(ItemsSource::Template(Arc::clone(&t.inner))),
            (None, Some(t)) => Some(ItemsSource::Json(Arc::clone(&t.inner))),
            (None, None) => None,
        };
        node.join = match join {
            0 => Join::All,
            n if n > 0 => Join::Count(n as u32),
            _ => Join::None,
        };
        node.retry_when = retry_when.map(|t| Arc::clone(&t.inner));
        node.retries = retries.unwrap_or(0);
        guard(|| Ok(self.graph()?.add_task(node)))
    }

    /// A variable the next `addTransition` publishes.
    #[napi]
    pub fn add_publish(&mut self, name: String, value: &NativeJsonTemplate) {
        self.publishes.push((name, Arc::clone(&value.inner)));
    }

    /// `targets`: task indexes, -1 for `fail`, -2 for `noop`.
    #[napi]
    pub fn add_transition(&mut self, task: u32, when: Option<&NativeTemplate>, targets: Vec<i32>) -> Result<(), JsError> {
        let publish = std::mem::take(&mut self.publishes);
        guard(|| {
            let targets = targets
                .into_iter()
                .map(|t| match t {
                    TARGET_FAIL => Ok(Target::Fail),
                    TARGET_NOOP => Ok(Target::Noop),
                    t if t >= 0 => Ok(Target::Task(t as u32)),
                    t => Err(internal(&format!("bad transition target {t}"))),
                })
                .collect::<arcflow_core::Result<Vec<_>>>()?;
            let when = when.map(|t| Arc::clone(&t.inner));
            self.graph()?.add_transition(task, Transition { when, publish, targets })
        })
    }

    #[napi]
    pub fn add_var(&mut self, name: String, value: &NativeJsonTemplate) -> Result<(), JsError> {
        guard(|| Ok(self.graph()?.add_var(name, Arc::clone(&value.inner))))
    }

    #[napi]
    pub fn set_start(&mut self, start: Vec<u32>) -> Result<(), JsError> {
        guard(|| self.graph()?.set_start(start))
    }

    #[napi]
    pub fn set_output(&mut self, output: &NativeJsonTemplate) -> Result<(), JsError> {
        guard(|| Ok(self.graph()?.set_output(Arc::clone(&output.inner))))
    }

    /// Bounds the activations of each run (1 to 1,000,000).
    #[napi]
    pub fn set_step_limit(&mut self, limit: u32) -> Result<(), JsError> {
        guard(|| self.graph()?.set_step_limit(limit))
    }

    /// The definition's content hash (its version), journaled with each
    /// durable run's start (see `arcflow_core::flow::Journal`).
    #[napi]
    pub fn set_version(&mut self, version: String) -> Result<(), JsError> {
        guard(|| {
            self.graph()?.version = Some(version);
            Ok(())
        })
    }

    /// Ends building; runs can start.
    #[napi]
    pub fn seal(&mut self) -> Result<(), JsError> {
        guard(|| {
            let graph = self.building.take().ok_or_else(|| internal("the flow is sealed already"))?;
            self.sealed = Some(Arc::new(graph));
            Ok(())
        })
    }

    /// The sealed flow's number for `runStart` (the same on every call):
    /// a number crosses for much less than a class instance.
    #[napi]
    pub fn register(&mut self) -> Result<u32, JsError> {
        guard(|| {
            if self.id == 0 {
                let graph = self.sealed.clone().ok_or_else(|| internal("the flow is not sealed"))?;
                self.id = crate::flow_ids::register(graph);
            }
            Ok(self.id)
        })
    }
}
