//! Rough per-call cost of evaluation inside the core (no napi), to see
//! where render time goes. Run: cargo run --release --example eval_cost

use arcflow_core::value::{from_json, to_json};
use arcflow_core::{compile, compile_condition, CompileOptions, JsonTemplate, WorkflowContext};

#[path = "timing/mod.rs"]
mod timing;
use timing::time;

fn main() {
    let ctx = WorkflowContext::new(from_json(r#"{"retries":3}"#).unwrap());
    ctx.set_var("token", "s".into());
    ctx.set_task_result("fetch", from_json(r#"{"rows":[1,2,3]}"#).unwrap());
    ctx.set_var("total", 10.into());
    let item = ctx.with_item(from_json(r#"{"url":"https://a","tag":"x"}"#).unwrap(), 1);
    let o = CompileOptions::default();
    let t = compile("{{ item.url }}", o).unwrap();
    time("expression {{ item.url }}", 200_000, || drop(t.render(&item).unwrap()));
    let t = compile("{{ 1 }}", o).unwrap();
    time("expression {{ 1 }}", 200_000, || drop(t.render(&item).unwrap()));
    let t = compile("Bearer {{ vars.token }}", o).unwrap();
    time("text Bearer {{ vars.token }}", 200_000, || drop(t.render(&item).unwrap()));
    let c = compile_condition("{{ tasks.fetch.result.rows | length > 2 and vars.total >= 10 }}", o).unwrap();
    time("condition", 200_000, || assert!(c.is_true(&item).unwrap()));
    let j = JsonTemplate::compile(
        &from_json(r#"{"url":"{{ item.url }}","method":"GET","headers":{"auth":"Bearer {{ vars.token }}"},"retries":"{{ input.retries }}","tag":"{{ item.tag | upper }}","page":"{{ index + 1 }}"}"#).unwrap(),
        o,
    )
    .unwrap();
    time("renderJson 5 fields", 100_000, || drop(j.render(&item).unwrap()));
    time("renderJson 5 fields + to_json", 100_000, || drop(to_json(&j.render(&item).unwrap()).unwrap()));
    time("WorkflowContext::new", 200_000, || drop(WorkflowContext::new(from_json("0").unwrap())));
    let t = compile("{{ tasks.fetch.result }}", o).unwrap();
    time("expression {{ tasks.fetch.result }}", 200_000, || drop(t.render(&item).unwrap()));
    let t = compile("{{ input }}", o).unwrap();
    time("expression {{ input }}", 200_000, || drop(t.render(&item).unwrap()));
    time("ctx.get(tasks.fetch.result)", 200_000, || drop(item.get("tasks.fetch.result").unwrap()));
    time("with_item(from_json)", 200_000, || drop(ctx.with_item(from_json(r#"{"url":"https://a","tag":"x"}"#).unwrap(), 1)));
}

