//! The shared workflow context: what a run's tasks read and publish.
//!
//! All shared state sits behind one `Arc`, so `clone()` and `with_item()`
//! copy a pointer (and, for an item, the item's own pointer) whatever the
//! context holds. Clones are handles to the same run: a variable set through
//! one is seen through every other. What differs between handles is only the
//! per-branch state: the current item and the current task outcome.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use minijinja::Value;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::value::approx_size;

mod table;
pub(crate) use table::Table;

/// Version of the document `export()` writes; `import()` reads this version.
pub const CONTEXT_DOCUMENT_VERSION: u32 = 1;

/// How a task attempt ended, as `succeeded()`, `failed()` and `timed_out()`
/// see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Skipped,
}

impl OutcomeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "timed_out" => Self::TimedOut,
            "cancelled" => Self::Cancelled,
            "skipped" => Self::Skipped,
            other => {
                return Err(Error::context(
                    format!("unknown outcome status {other:?}: expected succeeded, failed, timed_out, cancelled or skipped"),
                    None,
                ))
            }
        })
    }
}

/// The outcome of one task: its status, result and error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskOutcome {
    pub status: OutcomeStatus,
    #[serde(default)]
    pub result: Value,
    #[serde(default)]
    pub error: Value,
}

impl TaskOutcome {
    pub fn succeeded(result: Value) -> Self {
        TaskOutcome { status: OutcomeStatus::Succeeded, result, error: Value::from(()) }
    }

    /// An outcome from its status and its payload: the result when it
    /// succeeded, else the error.
    pub fn ended(status: OutcomeStatus, payload: Value) -> Self {
        match status {
            OutcomeStatus::Succeeded => Self::succeeded(payload),
            status => TaskOutcome { status, result: Value::from(()), error: payload },
        }
    }
}

pub(crate) struct Shared {
    pub(crate) input: Value,
    pub(crate) vars: Table<Value>,
    pub(crate) tasks: Table<Arc<TaskOutcome>>,
    pub(crate) system: Table<Value>,
    /// What the values above hold, roughly (see [`WorkflowContext::approx_bytes`]).
    bytes: AtomicUsize,
}

impl Shared {
    fn new(input: Value, vars: Table<Value>, tasks: Table<Arc<TaskOutcome>>, system: Table<Value>) -> Self {
        let entries = |map: &Table<Value>| map.fold(0, |n, k, v| n + k.len() + approx_size(v));
        let outcomes = tasks.fold(0, |n, k, v| n + k.len() + outcome_size(v));
        let bytes = approx_size(&input) + entries(&vars) + entries(&system) + outcomes;
        Shared { input, vars, tasks, system, bytes: AtomicUsize::new(bytes) }
    }

    /// Counts an entry replacing `old` (if any) under `key`.
    fn account(&self, key: &str, new: usize, old: Option<usize>) {
        match old {
            Some(old) if old > new => self.bytes.fetch_sub(old - new, Ordering::Relaxed),
            Some(old) => self.bytes.fetch_add(new - old, Ordering::Relaxed),
            None => self.bytes.fetch_add(key.len() + new, Ordering::Relaxed),
        };
    }
}

fn outcome_size(outcome: &TaskOutcome) -> usize {
    approx_size(&outcome.result) + approx_size(&outcome.error)
}

#[derive(Clone)]
pub struct WorkflowContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) item: Option<(Value, u64)>,
    pub(crate) outcome: Option<Arc<TaskOutcome>>,
}

impl std::fmt::Debug for WorkflowContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowContext")
            .field("vars", &self.shared.vars.len())
            .field("tasks", &self.shared.tasks.len())
            .field("item", &self.item)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u32,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    vars: BTreeMap<String, Value>,
    #[serde(default)]
    tasks: BTreeMap<String, TaskOutcome>,
    #[serde(default)]
    system: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item: Option<ItemDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<TaskOutcome>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemDocument {
    value: Value,
    index: u64,
}

fn sorted<V, R>(map: &Table<V>, f: impl Fn(&V) -> R) -> BTreeMap<String, R> {
    map.fold(BTreeMap::new(), |mut out, k, v| {
        out.insert(k.to_owned(), f(v));
        out
    })
}

impl WorkflowContext {
    /// A context for a run with the given input (the run's parameters).
    pub fn new(input: Value) -> Self {
        WorkflowContext {
            shared: Arc::new(Shared::new(input, Table::default(), Table::default(), Table::default())),
            item: None,
            outcome: None,
        }
    }

    /// A handle on the same shared state for one item of a with-items task.
    pub fn with_item(&self, item: Value, index: u64) -> Self {
        WorkflowContext { shared: self.shared.clone(), item: Some((item, index)), outcome: self.outcome.clone() }
    }

    /// A handle on the same shared state that carries a task's outcome, for
    /// `result()`, `succeeded()`, `failed()`, `timed_out()` and `error()`.
    pub fn with_outcome(&self, outcome: TaskOutcome) -> Self {
        self.with_shared_outcome(Arc::new(outcome))
    }

    /// [`WorkflowContext::with_outcome`] with an outcome the caller shares
    /// (a completion records the same one: one allocation, no copy).
    pub fn with_shared_outcome(&self, outcome: Arc<TaskOutcome>) -> Self {
        WorkflowContext { shared: self.shared.clone(), item: self.item.clone(), outcome: Some(outcome) }
    }

    /// A handle on the same shared state with no item and no outcome.
    pub fn without_frame(&self) -> Self {
        WorkflowContext { shared: self.shared.clone(), item: None, outcome: None }
    }

    pub fn input(&self) -> Value {
        self.shared.input.clone()
    }

    pub fn item(&self) -> Option<(Value, u64)> {
        self.item.clone()
    }

    pub fn outcome(&self) -> Option<&TaskOutcome> {
        self.outcome.as_deref()
    }

    pub fn set_var(&self, name: &str, value: Value) {
        let size = approx_size(&value);
        let old = self.shared.vars.insert(name, value);
        self.shared.account(name, size, old.as_ref().map(approx_size));
    }

    pub fn get_var(&self, name: &str) -> Option<Value> {
        self.shared.vars.get(name)
    }

    pub fn set_system(&self, name: &str, value: Value) {
        let size = approx_size(&value);
        let old = self.shared.system.insert(name, value);
        self.shared.account(name, size, old.as_ref().map(approx_size));
    }

    pub fn get_system(&self, name: &str) -> Option<Value> {
        self.shared.system.get(name)
    }

    /// Records a task's successful result.
    pub fn set_task_result(&self, task: &str, result: Value) {
        self.set_task_outcome(task, TaskOutcome::succeeded(result));
    }

    pub fn set_task_outcome(&self, task: &str, outcome: TaskOutcome) {
        self.set_shared_outcome(task, Arc::new(outcome));
    }

    pub fn set_shared_outcome(&self, task: &str, outcome: Arc<TaskOutcome>) {
        let size = outcome_size(&outcome);
        let old = self.shared.tasks.insert(task, outcome);
        self.shared.account(task, size, old.as_deref().map(outcome_size));
    }

    /// Identifies the shared state: equal for every handle on it (clones,
    /// items, outcomes) while it lives.
    pub fn shared_id(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    /// Bytes the shared state holds, roughly: its input, variables, system
    /// values and task outcomes (see [`crate::value::approx_size`]). Kept
    /// up to date as values are set, so reading it costs one atomic load.
    pub fn approx_bytes(&self) -> usize {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    pub fn get_task_result(&self, task: &str) -> Option<Value> {
        self.shared.tasks.with(task, |t| t.result.clone())
    }

    pub fn get_task_outcome(&self, task: &str) -> Option<Arc<TaskOutcome>> {
        self.shared.tasks.get(task)
    }

    /// The whole context as a JSON document (keys sorted, so equal contexts
    /// export equal text). [`WorkflowContext::import`] restores it.
    pub fn export(&self) -> Result<String> {
        let doc = Document {
            version: CONTEXT_DOCUMENT_VERSION,
            input: self.shared.input.clone(),
            vars: sorted(&self.shared.vars, Value::clone),
            tasks: sorted(&self.shared.tasks, |t| TaskOutcome::clone(t)),
            system: sorted(&self.shared.system, Value::clone),
            item: self.item.clone().map(|(value, index)| ItemDocument { value, index }),
            outcome: self.outcome.as_deref().cloned(),
        };
        serde_json::to_string(&doc).map_err(|e| Error::invalid_value(format!("context cannot be exported: {e}")))
    }

    /// Restores a context from a document written by [`WorkflowContext::export`].
    pub fn import(document: &str) -> Result<Self> {
        let doc: Document = serde_json::from_str(document)
            .map_err(|e| Error::context(format!("invalid context document: {e}"), None))?;
        if doc.version != CONTEXT_DOCUMENT_VERSION {
            return Err(Error::context(
                format!(
                    "context document version {} is not supported (this build reads version {CONTEXT_DOCUMENT_VERSION})",
                    doc.version
                ),
                None,
            ));
        }
        Ok(WorkflowContext {
            shared: Arc::new(Shared::new(
                doc.input,
                doc.vars.into_iter().collect(),
                doc.tasks.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
                doc.system.into_iter().collect(),
            )),
            item: doc.item.map(|i| (i.value, i.index)),
            outcome: doc.outcome.map(Arc::new),
        })
    }
}

/// A context with a bit of everything, for the tests of the context's modules.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::value::{from_json, to_json};

    pub(crate) fn ctx() -> WorkflowContext {
        let c = WorkflowContext::new(from_json(r#"{"urls":["a","b"],"n":3}"#).unwrap());
        c.set_task_result("fetch", from_json(r#"{"rows":[{"name":"x"},{"name":"y"}]}"#).unwrap());
        c.set_var("total", Value::from(10));
        c.set_system("run_id", Value::from("r1"));
        c
    }

    pub(crate) fn get(c: &WorkflowContext, path: &str) -> Option<String> {
        c.get(path).unwrap().map(|v| to_json(&v).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{ctx, get};
    use super::*;
    use crate::value::from_json;

    #[test]
    fn clones_share_state_and_items_stay_per_handle() {
        let a = ctx();
        let b = a.clone();
        let item = a.with_item(Value::from(5), 0);
        b.set_var("later", Value::from(true));
        assert_eq!(get(&a, "vars.later").as_deref(), Some("true"));
        assert_eq!(get(&item, "vars.later").as_deref(), Some("true"));
        assert_eq!(get(&item, "item").as_deref(), Some("5"));
        assert_eq!(get(&a, "item"), None);
        assert!(Arc::ptr_eq(&a.shared, &item.shared));
    }

    #[test]
    fn approx_bytes_follows_what_is_set_and_replaced() {
        let c = WorkflowContext::new(Value::from(()));
        let empty = c.approx_bytes();
        c.set_var("big", Value::from("x".repeat(10_000)));
        assert!(c.approx_bytes() >= empty + 10_000);
        c.set_var("big", Value::from(1));
        assert!(c.approx_bytes() < empty + 100, "{}", c.approx_bytes());
        c.set_task_result("t", Value::from("y".repeat(5_000)));
        let with_result = c.approx_bytes();
        assert!(with_result >= empty + 5_000);
        assert_eq!(WorkflowContext::import(&c.export().unwrap()).unwrap().approx_bytes(), with_result);
    }

    #[test]
    fn export_then_import_restores_exactly() {
        let c = ctx()
            .with_item(from_json(r#"{"__proto__":{"x":1}}"#).unwrap(), 4)
            .with_outcome(TaskOutcome { status: OutcomeStatus::Failed, result: Value::from(()), error: Value::from("boom") });
        c.set_var("constructor", from_json(r#"{"prototype":[1.5,null]}"#).unwrap());
        let doc = c.export().unwrap();
        let back = WorkflowContext::import(&doc).unwrap();
        assert_eq!(back.export().unwrap(), doc);
        assert_eq!(back.outcome().unwrap().status, OutcomeStatus::Failed);
    }

    #[test]
    fn import_rejects_bad_documents_clearly() {
        for (doc, what) in [
            ("{", "invalid context document"),
            (r#"{"version":2}"#, "version 2 is not supported"),
            (r#"{"version":1,"extra":1}"#, "unknown field"),
            (r#"{"version":1,"tasks":{"a":{"status":"weird"}}}"#, "unknown variant"),
        ] {
            let err = WorkflowContext::import(doc).unwrap_err();
            assert_eq!(err.code(), "ARCFLOW_CONTEXT");
            assert!(err.to_string().contains(what), "{doc}: {err}");
        }
    }
}
