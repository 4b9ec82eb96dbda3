//! Rough per-call cost of a run's native steps (no napi), to see where a
//! task's time goes. Run: cargo run --release -p arcflow-core --example flow_cost
use std::sync::Arc;

use arcflow_core::flow::{Completion, FlowGraph, RunStart, RunState, TaskNode};
use arcflow_core::value::{from_json, to_json};
use arcflow_core::{compile, CompileOptions, JsonTemplate, OutcomeStatus, Value, WorkflowContext};

#[path = "timing/mod.rs"]
mod timing;
use timing::time;

fn main() {
    let o = CompileOptions::default();
    let mut graph = FlowGraph::new("one");
    let mut node = TaskNode::new("t");
    node.input = Some(Arc::new(JsonTemplate::compile(&Value::from("{{ input }}"), o).unwrap()));
    graph.add_task(node);
    graph.set_start(vec![0]).unwrap();
    graph.set_output(Arc::new(JsonTemplate::compile(&Value::from("{{ tasks.t.result }}"), o).unwrap()));
    let graph = Arc::new(graph);
    time("WorkflowContext::new", 200_000, || drop(WorkflowContext::new(Value::from(0))));
    time("context + 3 system values", 200_000, || {
        let ctx = WorkflowContext::new(Value::from(0));
        ctx.set_system("run_id", Value::from("8b0e5f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"));
        ctx.set_system("workflow", Value::from("one"));
        ctx.set_system("started_at", Value::from("2026-11-23T12:00:00.000Z"));
    });
    let start = || RunStart { run_id: "r".into(), started_ms: 0, journal: None, billing: None };
    time("RunState::start (vars, first input)", 200_000, || drop(RunState::start(graph.clone(), WorkflowContext::new(Value::from(0)), start()).unwrap()));
    let state = RunState::new(graph.clone(), WorkflowContext::new(Value::from(0)));
    time("task_input {{ input }} (JSON)", 200_000, || drop(state.task_input(0).unwrap().unwrap()));
    let (mut state, _) = RunState::start(graph.clone(), WorkflowContext::new(Value::from(0)), start()).unwrap();
    let completion = || Completion { task: 0, step: 1, attempt: 1, status: OutcomeStatus::Succeeded, payload_json: "1", charge: None, follow: true, idle: false };
    time("complete_task (no transitions)", 200_000, || drop(state.complete_task(completion()).unwrap()));
    time("from_json(\"1\")", 200_000, || drop(from_json("1").unwrap()));
    time("output {{ tasks.t.result }}", 200_000, || drop(state.output().unwrap()));
    let ctx = WorkflowContext::new(Value::from(0));
    ctx.set_var("catalog", from_json(r#"{"customers":[{"rows":[{"region":"eu"}]}]}"#).unwrap());
    let item = ctx.with_item(Value::from(7), 7);
    let two = JsonTemplate::compile(&from_json(r#"{"n":"{{ item }}","region":"{{ vars.catalog.customers[0].rows[0].region }}"}"#).unwrap(), o).unwrap();
    time("2-field item input render", 200_000, || drop(two.render(&item).unwrap()));
    time("2-field item input render + to_json", 200_000, || drop(to_json(&two.render(&item).unwrap()).unwrap()));
    time("2-field item input render_json", 200_000, || drop(two.render_json(&item).unwrap()));
    let one_field = compile("{{ item }}", o).unwrap();
    time("{{ item }} render + to_json", 200_000, || drop(to_json(&one_field.render(&item).unwrap()).unwrap()));
    let deep = compile("{{ vars.catalog.customers[0].rows[0].region }}", o).unwrap();
    time("deep lookup render", 200_000, || drop(deep.render(&item).unwrap()));
    let t = compile("{{ 1 }}", o).unwrap();
    time("expression {{ 1 }}", 200_000, || drop(t.render(&ctx).unwrap()));
}
