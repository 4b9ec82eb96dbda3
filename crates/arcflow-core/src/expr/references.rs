//! What a template reads by name, for the loader's checks: the tasks it
//! reads (`tasks.NAME...`, `task('NAME')`) and the variables (`vars.NAME`).
//! Dotted names come from minijinja (`undeclared_variables(true)`).
//! `task('NAME')` is a call, which that list does not show, and minijinja's
//! parser is not public: its literal arguments are found by scanning the
//! template's expression text (inside `{{ }}` and `{% %}`, or all of a bare
//! condition) for `task(` after a non-name character, then a quoted name and
//! `)`. A call with a computed argument (`task(name)`) is not checked.

use super::json_template::JsonTemplate;
use super::template::{Template, TemplateKind};

/// The names a template reads, each once, sorted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    pub tasks: Vec<String>,
    pub vars: Vec<String>,
}

impl Template {
    /// The tasks and variables this template reads by name.
    ///
    /// ```
    /// use arcflow_core::{compile, CompileOptions};
    /// let t = compile("{{ tasks.fetch.result }} {{ task('sum') }} {{ vars.n }}", CompileOptions::default()).unwrap();
    /// let refs = t.references();
    /// assert_eq!((refs.tasks, refs.vars), (vec!["fetch".to_owned(), "sum".to_owned()], vec!["n".to_owned()]));
    /// ```
    pub fn references(&self) -> References {
        let mut refs = References::default();
        if self.kind() == TemplateKind::Literal {
            return refs;
        }
        for name in self.undeclared_names() {
            let mut parts = name.split('.');
            match (parts.next(), parts.next()) {
                (Some("tasks"), Some(task)) => refs.tasks.push(task.to_owned()),
                (Some("vars"), Some(var)) => refs.vars.push(var.to_owned()),
                _ => {}
            }
        }
        for region in expression_regions(self.source()) {
            refs.tasks.extend(task_call_names(region));
        }
        refs.tasks.sort();
        refs.tasks.dedup();
        refs.vars.sort();
        refs.vars.dedup();
        refs
    }
}

impl JsonTemplate {
    /// Each template of the structure with where it sits (`url`,
    /// `headers.auth`, `items[2]`; `""` for the root) and what it reads.
    pub fn references(&self) -> Vec<(String, References)> {
        let mut out = Vec::new();
        self.each_template(&mut |path, template| {
            let refs = template.references();
            if !refs.tasks.is_empty() || !refs.vars.is_empty() {
                out.push((path.to_owned(), refs));
            }
        });
        out
    }
}

/// The parts of `source` that are expressions: inside `{{ }}` and `{% %}`
/// blocks, or the whole of a bare condition (no template syntax).
fn expression_regions(source: &str) -> Vec<&str> {
    if !["{{", "{%"].iter().any(|m| source.contains(m)) {
        return vec![source];
    }
    let mut regions = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(['{']) {
        let after = &rest[at..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else {
            rest = &rest[at + 1..];
            continue;
        };
        let body = &after[2..];
        let end = body.find(close).unwrap_or(body.len());
        regions.push(&body[..end]);
        rest = &body[(end + 2).min(body.len())..];
    }
    regions
}

/// Literal arguments of `task('NAME')` / `task("NAME")` calls in `expr`.
fn task_call_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut from = 0;
    while let Some(found) = expr[from..].find("task") {
        let at = from + found;
        from = at + 4;
        let before = at.checked_sub(1).map(|i| bytes[i]);
        // `tasks(`, `my_task(`, `x.task(` are other names
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            continue;
        }
        let rest = expr[from..].trim_start();
        let Some(rest) = rest.strip_prefix('(') else { continue };
        let rest = rest.trim_start();
        let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else { continue };
        let Some(len) = rest[1..].find(quote) else { continue };
        let (name, tail) = (&rest[1..1 + len], &rest[2 + len..]);
        if tail.trim_start().starts_with(')') && !name.contains('\\') {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile, compile_condition, CompileOptions};

    fn refs(source: &str) -> References {
        compile(source, CompileOptions::default()).unwrap().references()
    }

    #[test]
    fn it_finds_dotted_task_and_var_reads_and_literal_task_calls() {
        let r = refs("{% for x in tasks.each.result %}{{ x }}{% endfor %} {{ task(\"b\").result + task( 'c' ) }} {{ vars.total | default(0) }}");
        assert_eq!(r.tasks, ["b", "c", "each"]);
        assert_eq!(r.vars, ["total"]);
        let c = compile_condition("task('fetch').result > 1 and vars.n", CompileOptions::default()).unwrap().references();
        assert_eq!((c.tasks, c.vars), (vec!["fetch".to_owned()], vec!["n".to_owned()]));
    }

    #[test]
    fn it_ignores_what_is_not_a_named_read() {
        assert_eq!(refs("task('x') outside an expression"), References::default());
        assert_eq!(refs("{{ subtask('a') }} {{ tasks(1) }} {{ task(name) }} {{ x.task('b') }} {{ tasks }}"), References::default());
        assert_eq!(refs("{% set tasks = {'a': 1} %}{{ tasks.a }}"), References::default(), "a local `tasks` is not the run's");
    }
}
