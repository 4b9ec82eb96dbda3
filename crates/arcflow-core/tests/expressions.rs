use arcflow_core::value::{from_json, to_json};
use arcflow_core::{
    compile, compile_condition, CompileOptions, ExpressionErrorKind, JsonTemplate, OutcomeStatus, TaskOutcome,
    TemplateKind, Value, WorkflowContext,
};

fn ctx() -> WorkflowContext {
    let c = WorkflowContext::new(from_json(r#"{"urls":["a","b","c"],"n":3,"name":"x"}"#).unwrap());
    c.set_task_result("fetch", from_json(r#"{"rows":[{"name":"x","n":2},{"name":"y","n":5}]}"#).unwrap());
    c.set_var("total", Value::from(10));
    c.set_var("prices", from_json("[3, 1.5, 7]").unwrap());
    c.set_system("run_id", Value::from("run-1"));
    c
}

fn render(c: &WorkflowContext, source: &str) -> String {
    let t = compile(source, CompileOptions::default()).unwrap_or_else(|e| panic!("{source}: {e}"));
    to_json(&t.render(c).unwrap_or_else(|e| panic!("{source}: {e}"))).unwrap()
}

fn fails(c: &WorkflowContext, source: &str, strict: bool) -> arcflow_core::ExpressionError {
    let result = compile(source, CompileOptions { strict }).and_then(|t| t.render(c));
    match result {
        Err(arcflow_core::Error::Expression(e)) => *e,
        other => panic!("{source}: expected an expression error, got {other:?}"),
    }
}

#[test]
fn single_expression_keeps_its_type() {
    let c = ctx();
    assert_eq!(render(&c, "{{ input.n }}"), "3");
    assert_eq!(render(&c, "  {{ input.n * 1.5 }}\n"), "4.5");
    assert_eq!(render(&c, "{{ input.urls }}"), r#"["a","b","c"]"#);
    assert_eq!(render(&c, "{{ tasks.fetch.result.rows[1] }}"), r#"{"name":"y","n":5}"#);
    assert_eq!(render(&c, "{{ input.n > 2 }}"), "true");
    assert_eq!(render(&c, "{{ none }}"), "null");
    assert_eq!(render(&c, "{{- vars.total -}}"), "10");
    assert_eq!(render(&c, "{{ {'a': [1, 2]} }}"), r#"{"a":[1,2]}"#);
}

#[test]
fn mixed_text_renders_to_a_string_and_plain_text_is_kept() {
    let c = ctx();
    assert_eq!(render(&c, "n={{ input.n }}!"), r#""n=3!""#);
    assert_eq!(render(&c, "{{ input.n }}{{ input.n }}"), r#""33""#);
    assert_eq!(render(&c, "{% for u in input.urls %}{{ u }}{% endfor %}"), r#""abc""#);
    assert_eq!(render(&c, "no templates here"), r#""no templates here""#);
    assert_eq!(compile("plain", CompileOptions::default()).unwrap().kind(), TemplateKind::Literal);
}

#[test]
fn every_name_in_scope_resolves() {
    let c = ctx().with_item(from_json(r#"{"id":42}"#).unwrap(), 1);
    assert_eq!(render(&c, "{{ parameters.name }}"), r#""x""#);
    assert_eq!(render(&c, "{{ ctx.total }}"), "10");
    assert_eq!(render(&c, "{{ task('fetch').result.rows | length }}"), "2");
    assert_eq!(render(&c, "{{ tasks.fetch.status }}"), r#""succeeded""#);
    assert_eq!(render(&c, "{{ item.id }}"), "42");
    assert_eq!(render(&c, "{{ index }}"), "1");
    assert_eq!(render(&c, "{{ system.run_id }}"), r#""run-1""#);
    assert_eq!(render(&c, "{{ vars | keys }}"), r#"["prices","total"]"#);
}

#[test]
fn everyday_filters_work() {
    let c = ctx();
    assert_eq!(render(&c, "{{ input.urls | length }}"), "3");
    assert_eq!(render(&c, "{{ input.urls | join(',') }}"), r#""a,b,c""#);
    assert_eq!(render(&c, "{{ vars.missing | default(5) }}"), "5");
    assert_eq!(render(&c, "{{ vars.prices | sum }}"), "11.5");
    assert_eq!(render(&c, "{{ vars.prices | min }}"), "1.5");
    assert_eq!(render(&c, "{{ vars.prices | max }}"), "7");
    assert_eq!(render(&c, "{{ tasks.fetch.result.rows | map(attribute='n') | list }}"), "[2,5]");
    assert_eq!(render(&c, "{{ tasks.fetch.result.rows[0] | keys }}"), r#"["name","n"]"#);
    assert_eq!(render(&c, "{{ tasks.fetch.result.rows[0] | values }}"), r#"["x",2]"#);
    assert_eq!(render(&c, "{{ input.urls | tojson }}"), r#""[\"a\", \"b\", \"c\"]""#);
}

#[test]
fn outcome_functions_read_the_current_outcome() {
    let c = ctx();
    let ok = c.with_outcome(TaskOutcome::succeeded(Value::from(7)));
    let failed = c.with_outcome(TaskOutcome {
        status: OutcomeStatus::Failed,
        result: Value::from(()),
        error: from_json(r#"{"message":"boom"}"#).unwrap(),
    });
    let timed_out = c.with_outcome(TaskOutcome { status: OutcomeStatus::TimedOut, result: Value::from(()), error: Value::from(()) });
    let cond = |t: &str, c: &WorkflowContext| compile_condition(t, CompileOptions::default()).unwrap().is_true(c).unwrap();
    assert!(cond("{{ succeeded() }}", &ok));
    assert!(!cond("{{ failed() }}", &ok));
    assert!(cond("failed()", &failed));
    assert!(cond("{{ timed_out() }}", &timed_out));
    assert_eq!(render(&ok, "{{ result() + 1 }}"), "8");
    assert_eq!(render(&failed, "{{ error().message }}"), r#""boom""#);
    let err = fails(&c, "{{ succeeded() }}", false);
    assert!(err.detail.contains("carries none"), "{}", err.detail);
}

#[test]
fn truthiness_is_jinja_truthiness() {
    let c = ctx();
    for (cond, expected) in [
        ("false", false), ("none", false), ("0", false), ("0.0", false), ("''", false), ("[]", false), ("{}", false),
        ("vars.missing", false), ("true", true), ("1", true), ("'x'", true), ("[0]", true), ("{'a': 0}", true),
    ] {
        let t = compile_condition(cond, CompileOptions::default()).unwrap();
        assert_eq!(t.is_true(&c).unwrap(), expected, "{cond}");
    }
    let err = compile_condition("x is {{ 1 }}", CompileOptions::default()).unwrap_err();
    assert!(err.to_string().contains("single expression"), "{err}");
}

#[test]
fn errors_carry_kind_template_and_position() {
    let c = ctx();
    let syntax = fails(&c, "Hello {{ input.n + }}", false);
    assert_eq!(syntax.kind, ExpressionErrorKind::Syntax);
    assert_eq!(syntax.template, "Hello {{ input.n + }}");
    assert_eq!(syntax.line, Some(1));
    assert!(syntax.column.is_some());

    let expr = fails(&c, "  {{ input.n + 'x' }}", false);
    assert_eq!(expr.kind, ExpressionErrorKind::Type);
    let (start, end) = expr.range.unwrap();
    assert_eq!(&"  {{ input.n + 'x' }}"[start..end], "input.n + 'x'");
    assert_eq!(expr.column, Some(6));

    let multi = fails(&c, "line one\n{{ nope( }}", false);
    assert_eq!((multi.kind, multi.line), (ExpressionErrorKind::Syntax, Some(2)));

    let undefined = fails(&c, "{{ vars.missing.deeper }}", true);
    assert_eq!(undefined.kind, ExpressionErrorKind::Undefined);
    let undefined_value = fails(&c, "{{ vars.missing }}", true);
    assert_eq!(undefined_value.kind, ExpressionErrorKind::Undefined);
    // lenient mode chains through undefined and gives null
    assert_eq!(render(&c, "{{ vars.missing.deeper }}"), "null");
    assert!(fails(&c, "{{ nosuchfilter | frob }}", false).detail.contains("unknown filter"));
}

#[test]
fn runaway_templates_run_out_of_fuel() {
    let c = ctx();
    let err = fails(&c, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", false);
    assert_eq!(err.kind, ExpressionErrorKind::OutOfFuel);
    let err = fails(&c, "{{ 'x' * 1000000000 }}", false);
    assert!(
        matches!(err.kind, ExpressionErrorKind::OutOfFuel | ExpressionErrorKind::Type | ExpressionErrorKind::Render | ExpressionErrorKind::Limit),
        "{err}"
    );
}

#[test]
fn deep_template_nesting_is_an_error_not_a_crash() {
    let c = ctx();
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(compile(&deep, CompileOptions::default()).is_err());
    let deep_list = format!("{{{{ {}1{} }}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(compile(&deep_list, CompileOptions::default()).is_err());
    // and the engine still works afterwards
    assert_eq!(render(&c, "{{ 1 + 1 }}"), "2");
}

#[test]
fn results_are_plain_data_not_live_views() {
    let c = ctx();
    let t = compile("{{ vars }}", CompileOptions::default()).unwrap();
    let snapshot = t.render(&c).unwrap();
    c.set_var("snapshot", snapshot.clone());
    c.set_var("later", Value::from(1));
    assert_eq!(to_json(&snapshot).unwrap(), r#"{"prices":[3,1.5,7],"total":10}"#);
    // storing a rendered `vars` inside vars must not make a cycle
    assert!(c.export().is_ok());
    assert_eq!(render(&c, "{{ [tasks.fetch, range(2)] }}"), r#"[{"status":"succeeded","result":{"rows":[{"name":"x","n":2},{"name":"y","n":5}]},"error":null},[0,1]]"#);
}

#[test]
fn json_templates_render_deeply_and_keep_types() {
    let c = ctx().with_item(Value::from("b"), 1);
    let input = from_json(r#"{"url":"{{ item }}","n":"{{ index + 1 }}","static":{"a":[1,"x"]},"list":["{{ input.n }}","n={{ input.n }}"],"flag":true}"#).unwrap();
    let t = JsonTemplate::compile(&input, CompileOptions::default()).unwrap();
    assert!(!t.is_static());
    assert_eq!(
        to_json(&t.render(&c).unwrap()).unwrap(),
        r#"{"url":"b","n":2,"static":{"a":[1,"x"]},"list":[3,"n=3"],"flag":true}"#
    );
    let bad = from_json(r#"{"headers":{"auth":"{{ vars. }}"}}"#).unwrap();
    match JsonTemplate::compile(&bad, CompileOptions::default()) {
        Err(arcflow_core::Error::Expression(e)) => assert_eq!(e.path.as_deref(), Some("headers.auth")),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("expected an error"),
    }
    let runtime = from_json(r#"{"list":[1,"{{ input.n + 'x' }}"]}"#).unwrap();
    let err = JsonTemplate::compile(&runtime, CompileOptions::default()).unwrap().render(&c).unwrap_err();
    assert!(err.to_string().starts_with("list[1]: type error"), "{err}");
}

#[test]
fn large_strings_work() {
    let big = "x".repeat(10 << 20);
    let c = WorkflowContext::new(Value::from(big.clone()));
    let t = compile("{{ input }}", CompileOptions::default()).unwrap();
    assert_eq!(t.render(&c).unwrap().as_str().unwrap().len(), big.len());
    let t = compile(&format!("{big}{{{{ 1 }}}}"), CompileOptions::default()).unwrap();
    assert_eq!(t.render(&c).unwrap().as_str().unwrap().len(), big.len() + 1);
}

/// Plain lookups take a fast path that skips minijinja; wrapped in
/// parentheses the same lookup is not plain and goes through minijinja.
/// Both must agree on every value, missing or not, in both modes.
#[test]
fn plain_lookups_agree_with_minijinja() {
    let c = ctx().with_item(from_json(r#"{"url":"https://a","tags":["x","y"],"a key":1}"#).unwrap(), 4);
    c.set_task_outcome(
        "broken",
        arcflow_core::TaskOutcome {
            status: arcflow_core::OutcomeStatus::Failed,
            result: Value::from(()),
            error: from_json(r#"{"message":"boom"}"#).unwrap(),
        },
    );
    let paths = [
        "input", "parameters", "item", "index", "item.url", "item.tags[1]", "item['a key']", "item[\"a key\"]",
        "item.tags[9]", "item.missing", "item.url.deeper", "vars.total", "ctx.total", "vars.missing", "vars",
        "tasks.fetch.result", "tasks.fetch.status", "tasks.fetch.error", "tasks.fetch.result.rows[0]",
        "tasks.broken.error.message", "tasks.missing.result", "tasks.fetch", "tasks.fetch.other", "system.run_id",
        "input.retries", "input[0]", "none", "true", "loop", "item.tags.0",
    ];
    for strict in [false, true] {
        let options = CompileOptions { strict };
        for path in paths {
            let fast = compile(&format!("{{{{ {path} }}}}"), options).unwrap().render(&c);
            let slow = compile(&format!("{{{{ ({path}) }}}}"), options).unwrap().render(&c);
            match (fast, slow) {
                (Ok(a), Ok(b)) => assert_eq!(to_json(&a).unwrap(), to_json(&b).unwrap(), "{path} (strict: {strict})"),
                (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "{path} (strict: {strict})"),
                (a, b) => panic!("{path} (strict: {strict}): fast {a:?} vs minijinja {b:?}"),
            }
            let fast = compile_condition(path, options).unwrap().is_true(&c).ok();
            let slow = compile_condition(&format!("({path})"), options).unwrap().is_true(&c).ok();
            assert_eq!(fast, slow, "condition {path} (strict: {strict})");
        }
    }
}

/// `render_json` writes JSON as it renders; it must give exactly the text
/// of rendering and then serialising, and fail the same way.
#[test]
fn render_json_writes_what_render_then_to_json_would() {
    let c = ctx().with_item(from_json(r#"{"url":"https://a","n":2}"#).unwrap(), 3);
    let sources = [
        r#"{"url":"{{ item.url }}","static":{"a":[1,2,{"b":null}]},"n":"{{ item.n * 2 }}","text":"n={{ index }}","esc":"{{ 'quo\"te' }}"}"#,
        r#"["{{ input.urls }}", 1, "x", {"k \"q\"": "{{ vars.total }}"}]"#,
        r#""{{ tasks.fetch.result.rows | map(attribute='n') | list }}""#,
        r#"{"missing":"{{ vars.nothing }}","nan":"{{ (0.0 / 0.0) if false else 1.5 }}"}"#,
        r#"{"nested":{"deeper":["{{ item }}"]}}"#,
        r#"7"#,
    ];
    for source in sources {
        let t = JsonTemplate::compile(&from_json(source).unwrap(), CompileOptions::default()).unwrap();
        assert_eq!(t.render_json(&c).unwrap(), to_json(&t.render(&c).unwrap()).unwrap(), "{source}");
    }
    let bad = JsonTemplate::compile(&from_json(r#"{"a":{"b":"{{ 1 / 0 }}"}}"#).unwrap(), CompileOptions::default()).unwrap();
    let (Err(a), Err(b)) = (bad.render_json(&c), bad.render(&c)) else { panic!("both must fail") };
    assert_eq!(a.to_string(), b.to_string());
}
