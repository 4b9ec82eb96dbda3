//! What a task's transitions make of its outcome: an entry without `when`
//! fires on success only, a failure is handled only by a `when` that holds
//! for it, and a join that can never fire fails the run by name.

use std::sync::Arc;

use arcflow_core::flow::{Answer, Completion, FlowGraph, Join, RunStart, RunState, Target, TaskNode, Transition};
use arcflow_core::{compile_condition, CompileOptions, OutcomeStatus, Value, WorkflowContext};

fn when(text: &str) -> Option<Arc<arcflow_core::Template>> {
    Some(Arc::new(compile_condition(text, CompileOptions::default()).unwrap()))
}

fn go(from: u32, when: Option<Arc<arcflow_core::Template>>, to: &[u32]) -> (u32, Transition) {
    (from, Transition { when, publish: Vec::new(), targets: to.iter().map(|&t| Target::Task(t)).collect() })
}

fn graph(names: &[&str], joins: &[(u32, Join)], transitions: Vec<(u32, Transition)>) -> Arc<FlowGraph> {
    let mut graph = FlowGraph::new("g");
    for (i, name) in names.iter().enumerate() {
        let mut node = TaskNode::new(*name);
        node.join = joins.iter().find(|(t, _)| *t as usize == i).map_or(Join::None, |(_, j)| *j);
        graph.add_task(node);
    }
    for (from, t) in transitions {
        graph.add_transition(from, t).unwrap();
    }
    graph.set_start(vec![0]).unwrap();
    Arc::new(graph)
}

fn start(graph: Arc<FlowGraph>) -> (RunState, Answer) {
    RunState::start(graph, WorkflowContext::new(Value::from(())), RunStart { run_id: "r".into(), started_ms: 0, journal: None, billing: None }).unwrap()
}

fn done(task: u32, status: OutcomeStatus, idle: bool) -> Completion<'static> {
    let payload_json = if status == OutcomeStatus::Succeeded { "1" } else { r#"{"name":"Error","message":"boom"}"# };
    Completion { task, step: 1, attempt: 1, status, payload_json, charge: None, follow: true, idle }
}

fn scheduled(answer: &Answer) -> Vec<u32> {
    match answer {
        Answer::Schedule(tasks) => tasks.iter().map(|s| s.task).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unconditional_next_swallows_failures() {
    // charge_card: { action: boom, next: [{ do: send_receipt }] }
    let g = graph(&["charge_card", "send_receipt"], &[], vec![go(0, None, &[1])]);
    let (mut state, _) = start(Arc::clone(&g));
    let answer = state.complete_task(done(0, OutcomeStatus::Failed, true)).unwrap();
    assert!(matches!(answer, Answer::Unhandled), "a failure no `when` handles fails the run: {answer:?}");
    let (mut state, _) = start(g);
    let answer = state.complete_task(done(0, OutcomeStatus::TimedOut, true)).unwrap();
    assert!(matches!(answer, Answer::Unhandled), "a timeout too: {answer:?}");
}

#[test]
fn a_next_without_when_fires_on_success_and_a_failure_needs_a_when_that_holds() {
    let g = graph(
        &["charge_card", "send_receipt", "refund"],
        &[],
        vec![go(0, None, &[1]), go(0, when("{{ failed() }}"), &[2])],
    );
    let (mut state, _) = start(Arc::clone(&g));
    assert_eq!(scheduled(&state.complete_task(done(0, OutcomeStatus::Succeeded, true)).unwrap()), vec![1]);
    let (mut state, _) = start(Arc::clone(&g));
    assert_eq!(scheduled(&state.complete_task(done(0, OutcomeStatus::Failed, true)).unwrap()), vec![2], "handled by its `when`");
    // a `when` that does not hold for the failure handles nothing
    let g = graph(&["a", "b"], &[], vec![go(0, when("{{ timed_out() }}"), &[1])]);
    let (mut state, _) = start(g);
    assert!(matches!(state.complete_task(done(0, OutcomeStatus::Failed, true)).unwrap(), Answer::Unhandled));
}

#[test]
fn a_join_that_can_never_fire_is_silent() {
    // pick -> a | b (exclusive), both -> end { join: all }
    let g = graph(
        &["pick", "a", "b", "end"],
        &[(3, Join::All)],
        vec![go(0, when("{{ result() == 1 }}"), &[1]), go(0, when("{{ result() != 1 }}"), &[2]), go(1, None, &[3]), go(2, None, &[3])],
    );
    let (mut state, _) = start(g);
    assert_eq!(scheduled(&state.complete_task(done(0, OutcomeStatus::Succeeded, false)).unwrap()), vec![1]);
    let answer = state.complete_task(done(1, OutcomeStatus::Succeeded, true)).unwrap();
    let Answer::JoinError(err) = answer else { panic!("the run must fail, not succeed without `end`: {answer:?}") };
    assert_eq!(err.code(), "ARCFLOW_JOIN");
    let arcflow_core::Error::Join { join, waiting_for, arrived, needed } = &err else { panic!("{err:?}") };
    assert_eq!((join.as_str(), waiting_for.clone(), *arrived, *needed), ("end", vec!["b".to_owned()], 1, 2));
    assert!(err.to_string().contains("join 'end'") && err.to_string().contains("'b'"), "{err}");
}

#[test]
fn a_join_with_no_arrivals_or_that_fired_ends_the_run_normally() {
    let g = graph(&["a", "b", "end"], &[(2, Join::All)], vec![go(0, None, &[1, 2]), go(1, None, &[2])]);
    let (mut state, _) = start(Arc::clone(&g));
    assert_eq!(scheduled(&state.complete_task(done(0, OutcomeStatus::Succeeded, false)).unwrap()), vec![1]);
    assert_eq!(scheduled(&state.complete_task(done(1, OutcomeStatus::Succeeded, true)).unwrap()), vec![2]);
    assert!(matches!(state.complete_task(done(2, OutcomeStatus::Succeeded, true)).unwrap(), Answer::Complete(None)));
}
