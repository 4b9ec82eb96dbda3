//! The names a template sees, as lazy minijinja objects over the shared
//! context: a lookup reads one map entry, nothing is copied up front.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value};

use crate::context::{Shared, TaskOutcome, WorkflowContext};

/// Names a template or a path may start with.
pub const ROOT_NAMES: &[&str] = &["input", "parameters", "vars", "ctx", "tasks", "item", "index", "system"];

/// The hidden name under which the current task outcome reaches the
/// outcome functions (`result()`, `succeeded()`, ...).
pub(crate) const OUTCOME_KEY: &str = "__arcflow_outcome";

/// The value of one root name, or `None` when the name is not a root.
/// `item` and `index` are undefined outside a with-items task.
pub(crate) fn root(ctx: &WorkflowContext, name: &str) -> Option<Value> {
    Some(match name {
        "input" | "parameters" => ctx.shared.input.clone(),
        "vars" | "ctx" => Value::from_object(MapView { shared: ctx.shared.clone(), map: Which::Vars }),
        "tasks" => Value::from_object(MapView { shared: ctx.shared.clone(), map: Which::Tasks }),
        "system" => Value::from_object(MapView { shared: ctx.shared.clone(), map: Which::System }),
        "item" => ctx.item.as_ref().map(|(v, _)| v.clone()).unwrap_or_default(),
        "index" => ctx.item.as_ref().map(|(_, i)| Value::from(*i)).unwrap_or_default(),
        _ => return None,
    })
}

/// The root object a template is rendered against.
#[derive(Debug)]
pub(crate) struct Scope(pub(crate) WorkflowContext);

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        if key == OUTCOME_KEY {
            return self.0.outcome.as_ref().map(|o| Value::from_dyn_object(o.clone()));
        }
        root(&self.0, key).filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(ROOT_NAMES)
    }
}

#[derive(Debug, Clone, Copy)]
enum Which {
    Vars,
    Tasks,
    System,
}

/// `vars`, `tasks` or `system`: a live view of one of the shared maps.
pub(crate) struct MapView {
    shared: Arc<Shared>,
    map: Which,
}

impl std::fmt::Debug for MapView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Debug output is what `{{ vars }}` prints: show the entries.
        let mut map = f.debug_map();
        for key in self.keys() {
            map.entry(&key, &self.lookup(&key).unwrap_or_default());
        }
        map.finish()
    }
}

impl MapView {
    fn lookup(&self, key: &str) -> Option<Value> {
        match self.map {
            Which::Vars => self.shared.vars.get(key),
            Which::System => self.shared.system.get(key),
            Which::Tasks => self.shared.tasks.with(key, |t| Value::from_dyn_object(t.clone())),
        }
    }

    fn keys(&self) -> Vec<String> {
        let push = |mut keys: Vec<String>, key: &str| {
            keys.push(key.to_owned());
            keys
        };
        let mut keys: Vec<String> = match self.map {
            Which::Vars => self.shared.vars.fold(Vec::new(), |keys, k, _| push(keys, k)),
            Which::System => self.shared.system.fold(Vec::new(), |keys, k, _| push(keys, k)),
            Which::Tasks => self.shared.tasks.fold(Vec::new(), |keys, k, _| push(keys, k)),
        };
        keys.sort_unstable();
        keys
    }
}

impl Object for MapView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.lookup(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.lookup(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.keys().into_iter().map(Value::from).collect())
    }
}

/// `tasks.NAME` and `task('NAME')`: `{ status, result, error }`.
impl Object for TaskOutcome {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "status" => Some(Value::from(self.status.as_str())),
            "result" => Some(self.result.clone()),
            "error" => Some(self.error.clone()),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["status", "result", "error"])
    }
}
