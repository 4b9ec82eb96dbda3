//! The checker's walk of expressions: the shape of each, from the shapes
//! of its parts, with `*` held to the rules in the parent module's comment.

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr};

use super::{Checker, Kind, Shape};
use crate::error::ExpressionError;

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

impl<'s> Checker<'_, 's> {
    fn args(&mut self, args: &'s [CallArg<'s>]) -> Result<Shape, ExpressionError> {
        let mut held = Shape::EMPTY;
        for arg in args {
            let (CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e)) = arg;
            held = held.holding(self.expr(e)?);
        }
        Ok(held)
    }

    pub(super) fn call(&mut self, call: &'s ast::Call<'s>) -> Result<Shape, ExpressionError> {
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

    pub(super) fn expr(&mut self, expr: &'s Expr<'s>) -> Result<Shape, ExpressionError> {
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
