//! A compile-time bound on the values a template can build, from its tree.
//!
//! minijinja charges fuel per instruction and for the lists it copies, but
//! some operations make a value far larger than the work that made it:
//! `list * n` is a lazy view of `n` copies, `a + a` a lazy concatenation
//! (copied at once, uncharged, once 32 are chained), `[a]` a level of
//! nesting. Printing, comparing or freeing such a value walks all of it
//! without charging anything. So the tree is checked, soundly, before it
//! runs; each expression gets a [`Shape`] that over-approximates the value:
//!
//! - `*` must repeat a string (eager and charged), multiply two numbers
//!   (each side provably a number), or have a numeric literal on one side:
//!   `x * n` counts as `x` written out `n` times against the bounds below
//!   (literal items at most [`MAX_REPEAT`], references [`MAX_REFS`]);
//! - a value may hold at most [`MAX_REFS`] references to values read from
//!   the context or computed (what `a + a` and `[a, a]` multiply);
//! - list, map and filter building may nest at most [`MAX_BUILT_DEPTH`]
//!   levels above what it reads;
//! - in a loop, a `{% set %}` may use a name the loop assigns at most once
//!   and never wrap it (`a = a + [x]` grows by a charged step per pass;
//!   `a = a + a` doubles and `a = [a]` nests once per pass).
//!
//! The pre-scan has bounded the tree's depth, so the recursion is safe.

use std::collections::HashMap;

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt};

use super::prescan::MAX_REPEAT;
use crate::error::{ExpressionError, ExpressionErrorKind};

/// Most references to read or computed values one value may hold.
pub const MAX_REFS: u64 = 1024;

/// Most levels of list, map or filter building above what a value reads.
pub const MAX_BUILT_DEPTH: u32 = crate::value::MAX_DEPTH as u32;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A number, boolean or none: never a list, map or string.
    Scalar,
    /// Always a string.
    Str,
    /// Anything.
    Data,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Shape {
    kind: Kind,
    /// Items written in the template.
    items: u64,
    /// References to values read or computed at run time.
    refs: u64,
    /// Levels built above the deepest value read.
    wrap: u32,
    /// References to names the enclosing loops assign, and whether one of
    /// them sits under a built level.
    carried: u64,
    carried_wrapped: bool,
}

impl Shape {
    const SCALAR: Shape = Shape { kind: Kind::Scalar, items: 1, refs: 0, wrap: 0, carried: 0, carried_wrapped: false };
    const STR: Shape = Shape { kind: Kind::Str, ..Shape::SCALAR };
    /// A value read from the context or computed by a function.
    const READ: Shape = Shape { kind: Kind::Data, items: 0, refs: 1, ..Shape::SCALAR };
    const EMPTY: Shape = Shape { kind: Kind::Data, items: 0, refs: 0, ..Shape::SCALAR };

    /// A value that may hold both.
    fn holding(self, other: Shape) -> Shape {
        Shape {
            kind: Kind::Data,
            items: self.items.saturating_add(other.items),
            refs: self.refs.saturating_add(other.refs),
            wrap: self.wrap.max(other.wrap),
            carried: self.carried.saturating_add(other.carried),
            carried_wrapped: self.carried_wrapped || other.carried_wrapped,
        }
    }
    /// Either one (an `if`, a loop that may not run).
    fn join(self, other: Shape) -> Shape {
        Shape {
            kind: if self.kind == other.kind { self.kind } else { Kind::Data },
            items: self.items.max(other.items),
            refs: self.refs.max(other.refs),
            wrap: self.wrap.max(other.wrap),
            carried: self.carried.max(other.carried),
            carried_wrapped: self.carried_wrapped || other.carried_wrapped,
        }
    }
    fn wrapped(mut self, levels: u32) -> Shape {
        self.kind = Kind::Data;
        self.wrap += levels;
        self.carried_wrapped |= self.carried > 0;
        self
    }
}

/// Filters whose result is a number or boolean, or a string, whatever
/// they are given.
const SCALAR_FILTERS: &[&str] = &["int", "float", "length", "count", "abs", "round", "bool", "wordcount"];
const STR_FILTERS: &[&str] = &[
    "string", "upper", "lower", "title", "capitalize", "trim", "replace", "join", "tojson", "format", "indent",
    "escape", "e", "safe", "urlencode", "truncate", "center", "striptags", "pprint",
];
/// Filters that return their input rearranged, filtered or picked from, and
/// how many levels they add (`items` pairs, `batch` groups).
const KEEPING_FILTERS: &[(&str, u32)] = &[
    ("list", 0), ("sort", 0), ("reverse", 0), ("unique", 0), ("first", 0), ("last", 0), ("default", 0), ("d", 0),
    ("select", 0), ("reject", 0), ("selectattr", 0), ("rejectattr", 0), ("map", 0), ("min", 0), ("max", 0),
    ("sum", 0), ("attr", 0), ("keys", 0), ("values", 0), ("items", 1), ("dictsort", 1), ("batch", 1),
    ("slice", 1), ("groupby", 2),
];
const SCALAR_FUNCTIONS: &[&str] = &["succeeded", "failed", "timed_out"];
const LOOP_SCALARS: &[&str] = &["index", "index0", "revindex", "revindex0", "length", "first", "last", "depth", "depth0"];

/// The walk recurses once per tree level (at most a few hundred, which the
/// pre-scan guarantees), on a stack of its own so that the caller's size
/// does not matter (debug frames are large).
const CHECK_STACK: usize = 16 << 20;

fn on_own_stack<F: FnOnce() -> Result<(), ExpressionError> + Send>(check: F) -> Result<(), ExpressionError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("arcflow-template-check".into())
            .stack_size(CHECK_STACK)
            .spawn_scoped(scope, check)
            .map_err(|e| ExpressionError::new(ExpressionErrorKind::Limit, format!("cannot check the template: {e}"), ""))?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Checks a bare expression already past the pre-scan.
pub(crate) fn check_expression(expr: &str, template: &str) -> Result<(), ExpressionError> {
    on_own_stack(|| check_expression_here(expr, template))
}

/// Checks a text template already past the pre-scan.
pub(crate) fn check_template(source: &str) -> Result<(), ExpressionError> {
    on_own_stack(|| check_template_here(source))
}

fn check_expression_here(expr: &str, template: &str) -> Result<(), ExpressionError> {
    let Ok(tree) = minijinja::machinery::parse_expr(expr) else { return Ok(()) }; // minijinja reports it
    let mut checker = Checker { template, env: HashMap::new(), recursive: Vec::new() };
    let shape = checker.expr(&tree)?;
    checker.bounded(shape)
}

fn check_template_here(source: &str) -> Result<(), ExpressionError> {
    let Ok(tree) = minijinja::machinery::parse(source, "template", Default::default()) else { return Ok(()) };
    let mut checker = Checker { template: source, env: HashMap::new(), recursive: Vec::new() };
    checker.stmt(&tree)
}

struct Checker<'t, 's> {
    template: &'t str,
    env: HashMap<&'s str, Shape>,
    /// Targets of the recursive loops around (checked at `loop(...)`).
    recursive: Vec<bool>,
}

impl<'t, 's> Checker<'t, 's> {
    fn refuse(&self, what: String, hint: &str) -> ExpressionError {
        ExpressionError::new(ExpressionErrorKind::Limit, format!("{what} (hint: {hint})"), self.template)
    }

    fn bounded(&self, shape: Shape) -> Result<(), ExpressionError> {
        if shape.refs.saturating_add(shape.carried) > MAX_REFS {
            return Err(self.refuse(
                format!("a value built from more than {MAX_REFS} references to other values (`a + a`, `[a, a]`) is refused: each copy is walked again when it is printed or compared"),
                "build lists with a `{% for %}` loop over the items instead",
            ));
        }
        if shape.items > MAX_REPEAT {
            return Err(self.refuse(
                format!("a literal list or string built into more than {MAX_REPEAT} items is refused"),
                "repeat with a `range()` loop instead",
            ));
        }
        if shape.wrap > MAX_BUILT_DEPTH {
            return Err(self.refuse(
                format!("lists, maps or filters nested more than {MAX_BUILT_DEPTH} levels above the values they hold are refused"),
                "nest values at most a hundred levels deep",
            ));
        }
        Ok(())
    }

    fn stmts(&mut self, body: &'s [Stmt<'s>]) -> Result<(), ExpressionError> {
        body.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&mut self, stmt: &'s Stmt<'s>) -> Result<(), ExpressionError> {
        match stmt {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitExpr(e) => self.expr(&e.expr).map(drop),
            Stmt::EmitRaw(_) => Ok(()),
            Stmt::Set(set) => {
                let shape = self.expr(&set.expr)?;
                self.assign(&set.target, shape)
            }
            Stmt::SetBlock(set) => {
                self.stmts(&set.body)?;
                if let Some(filter) = &set.filter {
                    self.expr(filter)?;
                }
                self.assign(&set.target, Shape::STR)
            }
            Stmt::ForLoop(l) => self.for_loop(l),
            Stmt::IfCond(c) => {
                self.expr(&c.expr)?;
                let before = self.env.clone();
                self.stmts(&c.true_body)?;
                let after_true = std::mem::replace(&mut self.env, before);
                self.stmts(&c.false_body)?;
                self.join_env(&after_true);
                Ok(())
            }
            Stmt::WithBlock(w) => {
                let before = self.env.clone();
                for (target, value) in &w.assignments {
                    let shape = self.expr(value)?;
                    self.assign(target, shape)?;
                }
                self.stmts(&w.body)?;
                self.env = before;
                Ok(())
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled)?;
                self.stmts(&a.body)
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter)?;
                self.stmts(&f.body)
            }
            Stmt::Block(b) => self.stmts(&b.body),
            Stmt::Extends(e) => self.expr(&e.name).map(drop),
            Stmt::Include(i) => self.expr(&i.name).map(drop),
            Stmt::Import(i) => self.expr(&i.expr).map(drop),
            Stmt::FromImport(i) => self.expr(&i.expr).map(drop),
            Stmt::Do(d) => self.call(&d.call).map(drop),
        }
    }

    fn assign(&mut self, target: &'s Expr<'s>, shape: Shape) -> Result<(), ExpressionError> {
        self.bounded(shape)?;
        match target {
            Expr::Var(v) => {
                self.env.insert(v.id, shape);
            }
            Expr::Tuple(t) => {
                for item in &t.items {
                    self.assign(item, shape)?;
                }
            }
            other => {
                self.expr(other)?;
            }
        }
        Ok(())
    }

    fn join_env(&mut self, other: &HashMap<&'s str, Shape>) {
        for (name, shape) in other {
            let joined = self.env.get(name).map_or(*shape, |s| s.join(*shape));
            self.env.insert(name, joined);
        }
    }

    fn for_loop(&mut self, l: &'s ast::ForLoop<'s>) -> Result<(), ExpressionError> {
        let iter = self.expr(&l.iter)?;
        let before = self.env.clone();
        // Every name the body assigns may carry from one pass to the next.
        let mut assigned = Vec::new();
        assigned_names(&l.body, &mut assigned);
        for name in &assigned {
            let outer = self.env.get(name).copied().unwrap_or(Shape::READ);
            self.env.insert(name, Shape { carried: outer.carried.max(1), ..outer });
        }
        let item = Shape { kind: Kind::Data, ..iter };
        if l.recursive {
            // `loop(x)` feeds the body's target back in as the next iterable.
            self.assign(&l.target, Shape { carried: item.carried.max(1), ..item })?;
        } else {
            self.assign(&l.target, item)?;
        }
        if let Some(filter) = &l.filter_expr {
            self.expr(filter)?;
        }
        self.recursive.push(l.recursive);
        let body = self.stmts(&l.body);
        self.recursive.pop();
        body?;
        for name in &assigned {
            let shape = self.env[name];
            self.carried_growth(name, shape)?;
        }
        let after = std::mem::replace(&mut self.env, before);
        let after: HashMap<_, _> = after
            .into_iter()
            .filter(|(name, _)| assigned.contains(name))
            .map(|(name, s)| {
                let outer = self.env.get(name).copied().unwrap_or(Shape::READ);
                (name, Shape { carried: outer.carried, carried_wrapped: outer.carried_wrapped, ..s })
            })
            .collect();
        self.join_env(&after);
        self.stmts(&l.else_body)
    }

    fn carried_growth(&self, name: &str, shape: Shape) -> Result<(), ExpressionError> {
        if shape.carried > 1 {
            return Err(self.refuse(
                format!("`{name}` is built from itself more than once in a loop (it would double on every pass)"),
                "append to a list once per pass (`{% set a = a + [x] %}`)",
            ));
        }
        if shape.carried_wrapped {
            return Err(self.refuse(
                format!("`{name}` is wrapped in a list, map or filter in a loop (it would nest a level deeper on every pass)"),
                "append to a list once per pass (`{% set a = a + [x] %}`)",
            ));
        }
        Ok(())
    }

    fn args(&mut self, args: &'s [CallArg<'s>]) -> Result<Shape, ExpressionError> {
        let mut held = Shape::EMPTY;
        for arg in args {
            let (CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e)) = arg;
            held = held.holding(self.expr(e)?);
        }
        Ok(held)
    }

    fn call(&mut self, call: &'s ast::Call<'s>) -> Result<Shape, ExpressionError> {
        let args = self.args(&call.args)?;
        let name = match &call.expr {
            Expr::Var(v) => Some(v.id),
            other => {
                self.expr(other)?;
                None
            }
        };
        let shape = match name {
            Some("loop") if self.recursive.last() == Some(&true) => {
                self.carried_growth("loop", args)?;
                Shape::STR
            }
            Some(name) if SCALAR_FUNCTIONS.contains(&name) => Shape::SCALAR,
            Some("range") => Shape::READ,
            _ => Shape::READ.holding(args).wrapped(2),
        };
        self.bounded(shape)?;
        Ok(shape)
    }

    fn expr(&mut self, expr: &'s Expr<'s>) -> Result<Shape, ExpressionError> {
        let shape = match expr {
            Expr::Var(v) => self.env.get(v.id).copied().unwrap_or(Shape::READ),
            Expr::Const(c) => match c.value.kind() {
                minijinja::value::ValueKind::String => Shape::STR,
                minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map => Shape::READ,
                _ => Shape::SCALAR,
            },
            Expr::Slice(s) => {
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part)?;
                }
                Shape { kind: Kind::Data, ..self.expr(&s.expr)? }
            }
            Expr::UnaryOp(u) => {
                self.expr(&u.expr)?;
                Shape::SCALAR
            }
            Expr::BinOp(b) => self.binop(b)?,
            Expr::Compare(c) => {
                self.expr(&c.expr)?;
                for op in &c.ops {
                    self.expr(&op.expr)?;
                }
                Shape::SCALAR
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr)?;
                let yes = self.expr(&i.true_expr)?;
                match &i.false_expr {
                    Some(no) => yes.join(self.expr(no)?),
                    None => yes.join(Shape::SCALAR),
                }
            }
            Expr::Filter(f) => {
                let input = match &f.expr {
                    Some(e) => self.expr(e)?,
                    None => Shape::EMPTY,
                };
                let args = self.args(&f.args)?;
                if SCALAR_FILTERS.contains(&f.name) {
                    Shape::SCALAR
                } else if STR_FILTERS.contains(&f.name) {
                    Shape::STR
                } else if let Some((_, levels)) = KEEPING_FILTERS.iter().find(|(n, _)| *n == f.name) {
                    let kept = input.holding(args);
                    if *levels == 0 { kept } else { kept.wrapped(*levels) }
                } else {
                    Shape::READ.holding(input).holding(args).wrapped(2)
                }
            }
            Expr::Test(t) => {
                self.expr(&t.expr)?;
                self.args(&t.args)?;
                Shape::SCALAR
            }
            Expr::GetAttr(a) => match &a.expr {
                Expr::Var(v) if v.id == "loop" && LOOP_SCALARS.contains(&a.name) => Shape::SCALAR,
                inner => Shape { kind: Kind::Data, ..self.expr(inner)? },
            },
            Expr::GetItem(g) => {
                self.expr(&g.subscript_expr)?;
                Shape { kind: Kind::Data, ..self.expr(&g.expr)? }
            }
            Expr::Call(c) => self.call(c)?,
            Expr::List(l) => self.items(&l.items)?.wrapped(1),
            Expr::Tuple(t) => self.items(&t.items)?.wrapped(1),
            Expr::Map(m) => {
                let keys = self.items(&m.keys)?;
                keys.holding(self.items(&m.values)?).wrapped(1)
            }
        };
        self.bounded(shape)?;
        Ok(shape)
    }

    fn items(&mut self, items: &'s [Expr<'s>]) -> Result<Shape, ExpressionError> {
        let mut held = Shape::EMPTY;
        for item in items {
            held = held.holding(self.expr(item)?);
        }
        Ok(held)
    }

    fn binop(&mut self, b: &'s ast::BinOp<'s>) -> Result<Shape, ExpressionError> {
        let left = self.expr(&b.left)?;
        let right = self.expr(&b.right)?;
        let both = |k| left.kind == k && right.kind == k;
        Ok(match b.op {
            BinOpKind::Add if both(Kind::Scalar) => Shape::SCALAR,
            BinOpKind::Add if both(Kind::Str) => Shape::STR,
            BinOpKind::Add | BinOpKind::ScAnd | BinOpKind::ScOr => {
                let held = left.holding(right);
                if both(Kind::Scalar) { Shape::SCALAR } else { held }
            }
            BinOpKind::Concat => Shape::STR,
            BinOpKind::Mul => self.mul(&b.left, left, &b.right, right)?,
            _ => Shape::SCALAR,
        })
    }

    fn mul(&self, l: &Expr<'_>, left: Shape, r: &Expr<'_>, right: Shape) -> Result<Shape, ExpressionError> {
        if left.kind == Kind::Str || right.kind == Kind::Str {
            // minijinja repeats a string eagerly and charges fuel for it.
            return Ok(Shape::STR);
        }
        if left.kind == Kind::Scalar && right.kind == Kind::Scalar {
            return Ok(Shape::SCALAR);
        }
        // A literal count (a float counts as its ceiling, as if repeating).
        let count = |e: &Expr<'_>| match e {
            Expr::Const(c) => match c.value.as_i64() {
                Some(n) => Some(n.max(0) as u64),
                None => f64::try_from(c.value.clone()).ok().filter(|f| f.is_finite()).map(|f| f.max(0.0).ceil().min(u64::MAX as f64) as u64),
            },
            _ => None,
        };
        let repeated = match (count(l), count(r)) {
            (_, Some(n)) => Some((left, n)),
            (Some(n), _) => Some((right, n)),
            _ => None,
        };
        match repeated {
            // As if written out `n` times: the copies count against the
            // item and reference bounds.
            Some((list, n)) => Ok(Shape {
                kind: Kind::Data,
                items: list.items.saturating_mul(n),
                refs: list.refs.saturating_mul(n),
                carried: list.carried.saturating_mul(n),
                ..list
            }),
            None => Err(self.refuse(
                "`*` by a count computed at run time is refused unless both sides are numbers or one is a string: a list read or computed at run time would be repeated lazily and walked without fuel".into(),
                "mark numbers with `| int` or `| float` (`(x | int) * y`), or repeat with a `range()` loop",
            )),
        }
    }
}

/// The names `{% set %}` and `{% with %}` assign anywhere in a body.
fn assigned_names<'s>(body: &'s [Stmt<'s>], out: &mut Vec<&'s str>) {
    fn targets<'s>(target: &'s Expr<'s>, out: &mut Vec<&'s str>) {
        match target {
            Expr::Var(v) => {
                if !out.contains(&v.id) {
                    out.push(v.id)
                }
            }
            Expr::Tuple(t) => t.items.iter().for_each(|i| targets(i, out)),
            _ => {}
        }
    }
    for stmt in body {
        match stmt {
            Stmt::Set(s) => targets(&s.target, out),
            Stmt::SetBlock(s) => targets(&s.target, out),
            Stmt::ForLoop(l) => {
                assigned_names(&l.body, out);
                assigned_names(&l.else_body, out);
            }
            Stmt::IfCond(c) => {
                assigned_names(&c.true_body, out);
                assigned_names(&c.false_body, out);
            }
            Stmt::WithBlock(w) => assigned_names(&w.body, out),
            Stmt::AutoEscape(a) => assigned_names(&a.body, out),
            Stmt::FilterBlock(f) => assigned_names(&f.body, out),
            Stmt::Block(b) => assigned_names(&b.body, out),
            _ => {}
        }
    }
}
