//! `NativeFlow` (a workflow's task graph, built once at load) and
//! `NativeRun` (one run over it). Per task the engine makes one call to get
//! the input (`taskInput`, or `itemInput` per item) and one to complete it
//! (`complete`, which answers with the tasks to start next).

use std::sync::Arc;

use arcflow_core::flow::{FlowGraph, ItemsSource, Join, Next, RunState, Target, TaskNode, Transition};
use arcflow_core::value::{from_json, to_json};
use arcflow_core::{OutcomeStatus, TaskOutcome, Value};
use napi_derive::napi;

use crate::context::{new_context, NativeContext};
use crate::error::{guard, JsError};
use crate::template::{NativeJsonTemplate, NativeTemplate};

/// `complete()` answers with task indexes to start, or one of these.
const NEXT_FAIL: i32 = -1;
const NEXT_UNHANDLED: i32 = -2;
/// Transition targets other than a task index.
const TARGET_FAIL: i32 = -1;
const TARGET_NOOP: i32 = -2;

fn internal(message: &str) -> arcflow_core::Error {
    arcflow_core::Error::Internal(message.to_owned())
}

#[napi]
pub struct NativeFlow {
    building: Option<FlowGraph>,
    publishes: Vec<(String, Arc<arcflow_core::JsonTemplate>)>,
    sealed: Option<Arc<FlowGraph>>,
}

#[napi]
impl NativeFlow {
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeFlow { building: Some(FlowGraph::new()), publishes: Vec::new(), sealed: None }
    }

    fn graph(&mut self) -> arcflow_core::Result<&mut FlowGraph> {
        self.building.as_mut().ok_or_else(|| internal("the flow is sealed"))
    }

    /// `join`: -1 none, 0 all, n > 0 that many arrivals. Returns the index.
    #[napi]
    pub fn add_task(
        &mut self,
        name: String,
        input: Option<&NativeJsonTemplate>,
        items_template: Option<&NativeTemplate>,
        items_json: Option<&NativeJsonTemplate>,
        join: i32,
        retry_when: Option<&NativeTemplate>,
    ) -> Result<u32, JsError> {
        let mut node = TaskNode::new(name);
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
    pub fn set_output(&mut self, output: &NativeJsonTemplate) -> Result<(), JsError> {
        guard(|| Ok(self.graph()?.set_output(Arc::clone(&output.inner))))
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
}

#[napi(object)]
pub struct ItemsBatch {
    pub id: u32,
    /// The items, as JSON text.
    pub json: String,
}

#[napi]
pub struct NativeRun {
    state: RunState,
}

fn json_opt(value: Option<Value>) -> arcflow_core::Result<Option<String>> {
    value.map(|v| to_json(&v)).transpose()
}

fn outcome(status: &str, payload_json: &str) -> arcflow_core::Result<TaskOutcome> {
    let status = OutcomeStatus::parse(status)?;
    let payload = from_json(payload_json)?;
    Ok(if status == OutcomeStatus::Succeeded {
        TaskOutcome::succeeded(payload)
    } else {
        TaskOutcome { status, result: Value::from(()), error: payload }
    })
}

#[napi]
impl NativeRun {
    /// Creates the run's context and renders the workflow's initial vars.
    #[napi(constructor)]
    pub fn new(flow: &NativeFlow, input_json: Option<String>, system_json: Option<String>) -> Result<Self, JsError> {
        let graph = guard(|| flow.sealed.clone().ok_or_else(|| internal("the flow is not sealed")))?;
        let ctx = guard(|| new_context(input_json, system_json))?;
        Ok(NativeRun { state: RunState::new(graph, ctx) })
    }

    #[napi]
    pub fn init_vars(&self) -> Result<(), JsError> {
        guard(|| self.state.init_vars())
    }

    /// A handle on the run's context (same shared state).
    #[napi]
    pub fn context(&self) -> NativeContext {
        NativeContext { inner: self.state.context().clone() }
    }

    #[napi]
    pub fn task_input(&self, task: u32) -> Result<Option<String>, JsError> {
        guard(|| json_opt(self.state.task_input(task)?))
    }

    #[napi]
    pub fn begin_items(&mut self, task: u32) -> Result<ItemsBatch, JsError> {
        guard(|| {
            let (id, items) = self.state.begin_items(task)?;
            Ok(ItemsBatch { id, json: to_json(&items)? })
        })
    }

    #[napi]
    pub fn item_input(&self, task: u32, batch: u32, index: u32) -> Result<Option<String>, JsError> {
        guard(|| json_opt(self.state.item_input(task, batch, index)?))
    }

    #[napi]
    pub fn end_items(&mut self, batch: u32) {
        self.state.end_items(batch);
    }

    #[napi]
    pub fn retry_allowed(&self, task: u32, status: String, error_json: String) -> Result<bool, JsError> {
        guard(|| self.state.retry_allowed(task, outcome(&status, &error_json)?))
    }

    /// Records the outcome (`payloadJson`: the result, or the error) and,
    /// with `follow`, fires transitions. Answers with task indexes to
    /// start, `[-1]` when a transition chose `fail`, `[-2]` when a failure
    /// went unhandled.
    #[napi]
    pub fn complete(&mut self, task: u32, status: String, payload_json: String, follow: bool) -> Result<Vec<i32>, JsError> {
        guard(|| {
            Ok(match self.state.complete(task, outcome(&status, &payload_json)?, follow)? {
                Next::Schedule(tasks) => tasks.into_iter().map(|t| t as i32).collect(),
                Next::Fail => vec![NEXT_FAIL],
                Next::Unhandled => vec![NEXT_UNHANDLED],
            })
        })
    }

    #[napi]
    pub fn output(&self) -> Result<Option<String>, JsError> {
        guard(|| json_opt(self.state.output()?))
    }
}
