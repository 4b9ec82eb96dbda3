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

use super::prescan::MAX_REPEAT;
use crate::error::{ExpressionError, ExpressionErrorKind};

mod expressions;
mod statements;

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
}
