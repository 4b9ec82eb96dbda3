//! What a resume says it does, in the run's journal (`run.resumed`): which
//! activations start again, which attempts count as interrupted and whether
//! they are retried, which retries were due, and for with-items tasks what
//! is kept and what runs again. It follows the engine's rules
//! (`lib/engine/task.ts` `start`, `lib/engine/items.ts` `#resumeItem`).

use std::collections::BTreeMap;

use super::graph::FlowGraph;
use super::pending::PendingActivation;
use crate::store::Execution;

/// The message of a resume that goes on with `activations`.
pub(crate) fn resume_note(graph: &FlowGraph, activations: &[PendingActivation]) -> String {
    if activations.is_empty() {
        return "resumed; nothing was in flight: the run completes".to_owned();
    }
    let parts: Vec<String> = activations.iter().map(|a| activation_note(graph, a)).collect();
    format!("resumed; {}", parts.join("; "))
}

/// The message of a resume whose last journaled completion ended the run.
pub(crate) fn ended_note(task: &str, chose_fail: bool) -> String {
    let why = if chose_fail { "a transition chose to fail the run" } else { "it failed and no transition handles it" };
    format!("resumed; nothing runs again: the run ends where its last completion left it (task '{task}': {why})")
}

fn activation_note(graph: &FlowGraph, activation: &PendingActivation) -> String {
    let node = &graph.tasks[activation.task as usize];
    let name = if activation.step > 1 { format!("'{}' (activation {})", node.name, activation.step) } else { format!("'{}'", node.name) };
    if node.has_items() {
        return format!("{name} goes on with its items: {}", items_note(&activation.executions));
    }
    let last = activation.executions.iter().filter(|e| e.item < 0).max_by_key(|e| e.attempt);
    match last {
        None => format!("{name} starts again"),
        Some(e) if e.status == "retrying" => format!("{name}: a retry was due, attempt {} starts", e.attempt + 1),
        Some(e) => {
            let allowed = 1 + node.retries;
            let fate = if e.attempt >= allowed {
                "it fails with InterruptedError (no retry left)".to_owned()
            } else if node.retry_when.is_some() {
                format!("it fails with InterruptedError, retried as attempt {} if its retry.when allows", e.attempt + 1)
            } else {
                format!("it fails with InterruptedError and is retried as attempt {}", e.attempt + 1)
            };
            format!("{name}: attempt {} was interrupted; {fate}", e.attempt)
        }
    }
}

/// Each item's latest journaled attempt decides, as the engine reads it:
/// ended (kept) or a retry that was due (it starts at its next attempt).
/// Items are journaled when they end, so one in flight at the crash has
/// nothing journaled and runs from its first attempt, like one not started.
fn items_note(executions: &[Execution]) -> String {
    let mut last: BTreeMap<i64, &Execution> = BTreeMap::new();
    for e in executions.iter().filter(|e| e.item >= 0 && e.status != "running") {
        let slot = last.entry(e.item).or_insert(e);
        if e.attempt > slot.attempt {
            *slot = e;
        }
    }
    let ended = last.values().filter(|e| e.is_final()).count();
    let due = last.values().filter(|e| e.status == "retrying").count();
    format!("{ended} ended and are kept, {due} with a retry due start at their next attempt, the others run from their first attempt")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::flow::TaskNode;

    fn execution(item: i64, attempt: u32, status: &'static str) -> Execution {
        Execution {
            run_id: Arc::from("r"),
            task: Arc::from("t"),
            step: 1,
            item,
            attempt,
            status,
            payload: None,
            input: None,
            started_at: None,
            ended_at: None,
            jseq: 0,
        }
    }

    fn graph(retries: u32, items: bool) -> FlowGraph {
        let mut graph = FlowGraph::new("g");
        let mut node = TaskNode::new("t");
        node.retries = retries;
        if items {
            let o = crate::CompileOptions::default();
            node.items = Some(crate::flow::ItemsSource::Template(Arc::new(crate::compile("{{ input }}", o).unwrap())));
        }
        graph.add_task(node);
        graph
    }

    fn note(graph: &FlowGraph, step: u32, executions: Vec<Execution>) -> String {
        resume_note(graph, &[PendingActivation { task: 0, step, executions }])
    }

    #[test]
    fn it_says_which_attempts_are_interrupted_and_whether_they_retry_and_which_retries_were_due() {
        let g = graph(2, false);
        assert_eq!(note(&g, 1, vec![]), "resumed; 't' starts again");
        assert_eq!(note(&g, 1, vec![execution(-1, 1, "running")]), "resumed; 't': attempt 1 was interrupted; it fails with InterruptedError and is retried as attempt 2");
        assert_eq!(note(&g, 3, vec![execution(-1, 3, "running")]), "resumed; 't' (activation 3): attempt 3 was interrupted; it fails with InterruptedError (no retry left)");
        assert_eq!(note(&g, 1, vec![execution(-1, 1, "retrying")]), "resumed; 't': a retry was due, attempt 2 starts");
        assert_eq!(resume_note(&g, &[]), "resumed; nothing was in flight: the run completes");
    }

    #[test]
    fn it_says_what_a_with_items_task_keeps_and_runs_again() {
        let g = graph(1, true);
        let executions = vec![execution(-1, 1, "running"), execution(0, 1, "succeeded"), execution(1, 1, "retrying"), execution(2, 1, "retrying"), execution(2, 2, "failed")];
        assert_eq!(
            note(&g, 1, executions),
            "resumed; 't' goes on with its items: 2 ended and are kept, 1 with a retry due start at their next attempt, the others run from their first attempt"
        );
    }
}
