//! Issue 17.8 and 17.9: hostile templates end as typed errors. Each case
//! that used to crash or exhaust memory runs in a child process (this test
//! binary again) whose address space is capped, on a 2 MiB stack, and the
//! parent asserts that it exited normally with the error's kind.

use std::os::unix::process::CommandExt;
use std::process::Command;

use arcflow_core::{compile, CompileOptions, Error, Value, WorkflowContext};

const CASE_VAR: &str = "ARCFLOW_LIMIT_CASE";
/// The child's address space: far below what the runaways allocated.
const ADDRESS_SPACE: u64 = 1 << 30;

fn source(case: &str) -> String {
    let n = 25_000;
    match case {
        "plus" => format!("{{{{ 1{} }}}}", " + 1".repeat(n)),
        "tilde" => format!("{{{{ 1{} }}}}", "~1".repeat(n)),
        "filter" => format!("{{{{ 1{} }}}}", " | string".repeat(n)),
        "and" => format!("{{{{ 1{} }}}}", " and 1".repeat(n)),
        "not" => format!("{{{{ {}1 }}}}", "not ".repeat(n)),
        "neg" => format!("{{{{ {}1 }}}}", "-".repeat(n)),
        "attr" => format!("{{{{ a{} }}}}", ".a".repeat(n)),
        "text" => format!("n = {{{{ 1{} }}}}", " + 1".repeat(n)),
        "tag" => format!("{{% if 1{} %}}x{{% endif %}}", " and 1".repeat(n)),
        "big" => format!("{{{{ 1 }}}}{}", "x".repeat(17 << 20)),
        "repeat_nested" => "{{ [[0] * 10000] * 10000 }}".into(),
        "repeat_huge" => "{{ [[0] * 100000000] * 100000000 }}".into(),
        "repeat_var" => "{{ [0] * input.n }}".into(),
        "namespace_doubling" => {
            "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}".into()
        }
        "lazy_result" => "{{ input.list * input.n }}".into(),
        // The holes left by the first round: a repeated list that is printed,
        // measured or compared without `materialize` walking it.
        "lazy_printed" => "{{ input.list * input.n ~ '' }}".into(),
        "lazy_length" => "{{ (input.list * input.n) | length }}".into(),
        "lazy_compared" => "{{ input.list * input.n == [] }}".into(),
        "lazy_text" => "n = {{ input.list * input.n }}".into(),
        "doubling" => format!("{{% set a = input.list %}}{}{{{{ a | length }}}}", "{% set a = a + a %}".repeat(40)),
        "doubling_loop" => "{% set a = input.list %}{% for i in range(40) %}{% set a = a + a %}{% endfor %}{{ a | length }}".into(),
        "nesting" => format!("{{% set a = 0 %}}{}{{{{ a }}}}", "{% set a = [a] %}".repeat(30_000)),
        "nesting_loop" => "{% set a = 0 %}{% for i in range(100000) %}{% set a = [a] %}{% endfor %}{{ a }}".into(),
        other => panic!("unknown case {other}"),
    }
}

/// The kind of the error the case ends with, or "ok".
fn outcome(case: &str) -> String {
    let ctx = WorkflowContext::new(arcflow_core::value::from_json(r#"{"n": 100000000, "list": [[0,1,2,3,4,5,6,7]]}"#).unwrap());
    let source = source(case);
    let result = compile(&source, CompileOptions::default()).and_then(|t| t.render(&ctx));
    match result {
        Ok(_) => "ok".into(),
        Err(Error::Expression(e)) => e.kind.as_str().into(),
        Err(other) => format!("{}", other.code()),
    }
}

/// Runs in the child only: prints the outcome of the case it was given.
#[test]
fn child_case() {
    let Ok(case) = std::env::var(CASE_VAR) else { return };
    let out = std::thread::Builder::new().stack_size(2 << 20).spawn(move || outcome(&case)).unwrap().join().unwrap();
    println!("outcome={out}");
}

fn in_child(case: &str) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_case", "--nocapture", "--test-threads=1"]).env(CASE_VAR, case);
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: ADDRESS_SPACE, rlim_max: ADDRESS_SPACE };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{case}: the child died: {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout.lines().find_map(|l| l.split_once("outcome=").map(|(_, o)| o)).unwrap_or_else(|| panic!("{case}: no outcome in {stdout}")).to_owned()
}

#[test]
fn long_expressions_crash_the_parser() {
    for case in ["plus", "tilde", "filter", "and", "not", "neg", "attr", "text", "tag", "big"] {
        assert_eq!(in_child(case), "limit", "{case}");
    }
}

#[test]
fn fuel_does_not_stop_memory_heavy_runaways() {
    for case in ["repeat_nested", "repeat_huge", "repeat_var", "lazy_result"] {
        assert_eq!(in_child(case), "limit", "{case}");
    }
    for case in ["lazy_printed", "lazy_length", "lazy_compared", "lazy_text", "doubling", "doubling_loop", "nesting", "nesting_loop"] {
        assert_eq!(in_child(case), "limit", "{case}");
    }
    // `namespace` is not available: it is how a loop grows a value.
    assert_eq!(in_child("namespace_doubling"), "syntax");
}

#[test]
fn expressions_under_the_limits_still_work() {
    let ctx = WorkflowContext::new(Value::from(()));
    let render = |s: &str| compile(s, CompileOptions::default()).and_then(|t| t.render(&ctx)).map(|v| v.to_string());
    let chain = format!("{{{{ 0{} }}}}", " + 1".repeat(200));
    assert_eq!(render(&chain).unwrap(), "200");
    assert_eq!(render("{{ [0] * 3 }}").unwrap(), "[0, 0, 0]");
    assert_eq!(render("{{ 'ab' * 2 ~ 'c' }}").unwrap(), "ababc");
    assert_eq!(render("{{ 2 * 3 * 4 }}").unwrap(), "24");
    assert_eq!(render("{{ ([[1] * 100] * 100) | length }}").unwrap(), "100");
    assert_eq!(render("{{ '}}' ~ 'x' }}").unwrap(), "}}x");
    assert_eq!(render("a{% raw %}{{ 1 + }}{% endraw %}b").unwrap(), "a{{ 1 + }}b");
    assert_eq!(render("{{ 'ab' * 2 }}").unwrap(), "abab");
    assert_eq!(render("{{ 'a' ~ 'b' ~ 1 ~ 'c' }}").unwrap(), "ab1c");
    assert_eq!(render("{% set s = '' %}{% for i in range(3) %}{% set s = s ~ i %}{{ s }},{% endfor %}").unwrap(), "0,1,2,");
    assert_eq!(render("{% set l = [] %}{% for i in range(5) %}{% set l = l + [i * 2] %}{% if loop.last %}{{ l }}{% endif %}{% endfor %}").unwrap(), "[8]");
    assert_eq!(render("{% set a = [1] %}{% set a = a + a %}{% set a = a + a %}{{ a | length }}").unwrap(), "4");
    assert_eq!(render("{{ (2.5 | float) * (4 | int) }}").unwrap(), "10.0");
    assert_eq!(render("{% for x in [1, 2] %}{{ loop.index * 10 }}{% endfor %}").unwrap(), "1020");
    let ctx_n = WorkflowContext::new(arcflow_core::value::from_json(r#"{"n": 3, "price": 2.5}"#).unwrap());
    let render_n = |s: &str| compile(s, CompileOptions::default()).and_then(|t| t.render(&ctx_n)).map(|v| v.to_string());
    assert_eq!(render_n("{{ input.n * 2 }}").unwrap(), "6");
    assert_eq!(render_n("{{ (input.price | float) * (input.n | int) }}").unwrap(), "7.5");
    let list = format!("{{{{ [{}] | length }}}}", vec!["[1]"; 5000].join(","));
    assert_eq!(render(&list).unwrap(), "5000");
}
