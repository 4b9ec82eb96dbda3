//! The checker's walk of statements: what each assigns, and the loop rule
//! (a name a loop assigns may be built from itself at most once a pass,
//! and never wrapped).

use std::collections::HashMap;

use minijinja::machinery::ast::{self, Expr, Stmt};

use super::{Checker, Kind, Shape};
use crate::error::ExpressionError;

impl<'s> Checker<'_, 's> {
    fn stmts(&mut self, body: &'s [Stmt<'s>]) -> Result<(), ExpressionError> {
        body.iter().try_for_each(|s| self.stmt(s))
    }

    pub(super) fn stmt(&mut self, stmt: &'s Stmt<'s>) -> Result<(), ExpressionError> {
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

    pub(super) fn carried_growth(&self, name: &str, shape: Shape) -> Result<(), ExpressionError> {
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
