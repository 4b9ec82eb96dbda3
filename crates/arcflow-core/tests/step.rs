//! A run's steps as the core owns them: the step limit decided before
//! anything is started or reserved, reservations held by the run and given
//! back when it ends, one rule for what an attempt is charged, and the
//! retry decision.

use std::sync::Arc;

use arcflow_core::flow::{Answer, Billing, Charge, Completion, FlowGraph, Input, RunStart, RunState, TaskNode, Target, Transition};
use arcflow_core::meter::{Meter, Reservation, RunMeter};
use arcflow_core::{compile_condition, CompileOptions, OutcomeStatus, Value, WorkflowContext};

/// `a -> [b, c]`, every task costing `cost` credits.
fn fan(step_limit: u32) -> Arc<FlowGraph> {
    let mut graph = FlowGraph::new("fan");
    for name in ["a", "b", "c"] {
        graph.add_task(TaskNode::new(name));
    }
    graph.add_transition(0, Transition { when: None, publish: Vec::new(), targets: vec![Target::Task(1), Target::Task(2)] }).unwrap();
    graph.set_start(vec![0]).unwrap();
    graph.set_step_limit(step_limit).unwrap();
    Arc::new(graph)
}

fn metered(meter: &Arc<Meter>, cost: i64, bill_failed: bool) -> Billing {
    let account = meter.credit("acme", 100, "k", None).map(|_| meter.resolve("acme", None).unwrap().unwrap()).unwrap();
    Billing::new(RunMeter { meter: Arc::clone(meter), account, costs: Arc::from(vec![Some(cost); 3]) }, bill_failed)
}

fn start(graph: Arc<FlowGraph>, billing: Option<Billing>) -> (RunState, Answer) {
    RunState::start(graph, WorkflowContext::new(Value::from(())), RunStart { run_id: "r".into(), started_ms: 0, journal: None, billing }).unwrap()
}

fn done(task: u32, status: OutcomeStatus, charge: Option<Charge>) -> Completion<'static> {
    let payload_json = if status == OutcomeStatus::Succeeded { "1" } else { r#"{"name":"Error","message":"boom"}"# };
    Completion { task, step: 1, attempt: 1, status, payload_json, charge, follow: true, idle: false }
}

#[test]
fn the_step_limit_is_decided_before_anything_starts_or_is_reserved() {
    let meter = Arc::new(Meter::new(None, 0));
    let (mut state, answer) = start(fan(2), Some(metered(&meter, 10, false)));
    let Answer::Schedule(first) = answer else { panic!("{answer:?}") };
    assert_eq!((first.len(), first[0].step), (1, 1));
    assert_eq!(meter.balance("acme", None).unwrap(), Some(90), "a's cost is reserved with its schedule");
    // a leads to b and c: two more steps where one is left; c is the one past the limit
    let next = state.complete_task(done(0, OutcomeStatus::Succeeded, Some(Charge { reserved: 10, reported: None }))).unwrap();
    assert!(matches!(next, Answer::StepLimit { task: 2, limit: 2 }), "{next:?}");
    assert_eq!(state.steps(), 1, "nothing past the limit was counted");
    assert_eq!(meter.balance("acme", None).unwrap(), Some(90), "a charged 10; nothing reserved for b or c");
}

#[test]
fn a_run_that_ends_gives_back_what_its_attempts_still_reserve() {
    let meter = Arc::new(Meter::new(None, 0));
    let (mut state, answer) = start(fan(10), Some(metered(&meter, 10, false)));
    assert!(matches!(answer, Answer::Schedule(_)));
    assert_eq!(state.reserve(25).unwrap(), Reservation::Reserved, "a cost function's estimate");
    assert_eq!(meter.balance("acme", None).unwrap(), Some(65));
    state.end(Some("cancelled"), None).unwrap();
    assert_eq!(meter.balance("acme", None).unwrap(), Some(100));
}

#[test]
fn one_rule_for_what_an_attempt_is_charged() {
    for (bill_failed, status, reported, balance) in [
        (false, OutcomeStatus::Succeeded, None, 90),
        (false, OutcomeStatus::Succeeded, Some(4), 96),
        (false, OutcomeStatus::Failed, Some(4), 100),
        (true, OutcomeStatus::Failed, None, 90),
        (true, OutcomeStatus::TimedOut, Some(7), 93),
    ] {
        let meter = Arc::new(Meter::new(None, 0));
        let (mut state, _) = start(fan(10), Some(metered(&meter, 10, bill_failed)));
        let _ = state.complete_task(done(0, status, Some(Charge { reserved: 10, reported }))).unwrap();
        // what b and c reserved when a succeeded goes back with the run
        state.end(Some("cancelled"), None).unwrap();
        assert_eq!(meter.balance("acme", None).unwrap(), Some(balance), "{bill_failed} {status:?} {reported:?}");
    }
}

#[test]
fn a_retry_follows_retry_when_and_renders_its_input_again() {
    let o = CompileOptions::default();
    let mut graph = FlowGraph::new("retry");
    let mut node = TaskNode::new("t");
    node.retry_when = Some(Arc::new(compile_condition("{{ error().code == 'HTTP_503' }}", o).unwrap()));
    node.input = Some(Arc::new(arcflow_core::JsonTemplate::compile(&Value::from("{{ vars.n | default(1) }}"), o).unwrap()));
    graph.add_task(node);
    graph.set_start(vec![0]).unwrap();
    let (mut state, _) = start(Arc::new(graph), None);
    let transient = r#"{"name":"HttpError","code":"HTTP_503","message":"busy"}"#;
    let permanent = r#"{"name":"HttpError","code":"HTTP_404","message":"gone"}"#;
    assert!(state.retry(0, 1, -1, 1, OutcomeStatus::Failed, transient, None, None).unwrap());
    assert!(!state.retry(0, 1, -1, 1, OutcomeStatus::Failed, permanent, None, None).unwrap());
    state.context().set_var("n", Value::from(2));
    assert!(matches!(state.attempt_input(0, 1, 2).unwrap(), Input::Rendered(json) if json == "2"));
}

#[test]
fn the_step_limit_has_bounds() {
    let mut graph = FlowGraph::new("x");
    for bad in [0, 1_000_001] {
        assert_eq!(graph.set_step_limit(bad).unwrap_err().code(), "ARCFLOW_INVALID_VALUE");
    }
    graph.set_step_limit(1_000_000).unwrap();
}
