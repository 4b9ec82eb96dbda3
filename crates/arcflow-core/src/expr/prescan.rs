//! A cheap scan of a template's text before minijinja parses it.
//!
//! minijinja's parser guards bracket and block nesting, but builds chains
//! of binary operators, `not`, unary `-`, `.attr` and `| filter` as deep
//! trees it then walks recursively (parse, codegen, drop): 3,000 links
//! overflow a 2 MiB native stack. The scan bounds the depth of every
//! expression's tree from its tokens, conservatively: within one
//! comma-separated segment of one bracket level every operator, keyword
//! and opening bracket counts as a level, and a segment's depth adds the
//! deepest bracket inside it. No tree can be deeper than that count.
//!
//! It also refuses repetition of a literal list or string (`[0] * n`,
//! `'ab' * n`) unless the counts are integer literals whose product, across
//! nested repetitions, is at most [`MAX_REPEAT`]: minijinja repeats lists
//! lazily and walks them without charging fuel when they are printed,
//! compared or concatenated.

use crate::error::{ExpressionError, ExpressionErrorKind};

/// Largest template source accepted (bytes): room for large text bodies
/// (the depth bound is what keeps parsing safe; this keeps it short).
pub const MAX_TEMPLATE_BYTES: usize = 16 << 20;

/// Deepest expression tree the scan lets through; 1,000 links fit in a
/// 2 MiB stack in a debug build, so this leaves a wide margin.
pub const MAX_EXPRESSION_DEPTH: usize = 256;

/// Most items a literal list or string may be repeated into.
pub const MAX_REPEAT: u64 = 10_000;

/// Checks a whole template (text with `{{ }}`, `{% %}` and `{# #}`).
pub(crate) fn check_template(source: &str) -> Result<(), ExpressionError> {
    check_size(source)?;
    let mut rest = source;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let (close, is_tag) = match after.as_bytes().first() {
            Some(b'{') => ("}}", false),
            Some(b'%') => ("%}", true),
            Some(b'#') => {
                rest = after.find("#}").map_or("", |end| &after[end + 2..]);
                continue;
            }
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        let end = tag_end(body, close).unwrap_or(body.len());
        let inner = &body[..end];
        check_expression(inner, source)?;
        rest = body.get(end + 2..).unwrap_or("");
        if is_tag && inner.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw" {
            rest = skip_raw(rest);
        }
    }
    Ok(())
}

/// Checks a bare expression (the inside of `{{ }}` or a condition).
pub(crate) fn check_expression_source(expr: &str, template: &str) -> Result<(), ExpressionError> {
    check_size(template)?;
    check_expression(expr, template)
}

fn check_size(source: &str) -> Result<(), ExpressionError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(limit(format!("template of {} bytes is over the limit of {MAX_TEMPLATE_BYTES} bytes", source.len()), source));
    }
    Ok(())
}

fn limit(detail: String, template: &str) -> ExpressionError {
    ExpressionError::new(ExpressionErrorKind::Limit, detail, template)
}

/// Where `close` ends a tag, outside string literals.
fn tag_end(body: &str, close: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => i = string_end(bytes, i, q),
            _ if body[i..].starts_with(close) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The index just past a string literal opened at `start`.
fn string_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() && bytes[i] != quote {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    (i + 1).min(bytes.len())
}

/// The text after `{% endraw %}` (raw content is not template syntax).
fn skip_raw(text: &str) -> &str {
    let mut from = 0;
    while let Some(at) = text[from..].find("endraw") {
        let at = from + at;
        let before = text[..at].trim_end_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if before.ends_with("{%") {
            return text[at..].find("%}").map_or("", |end| &text[at + end + 2..]);
        }
        from = at + 6;
    }
    ""
}

#[derive(Default)]
struct Frame {
    /// Levels counted in the current segment, and its deepest bracket.
    ops: usize,
    child: usize,
    /// Deepest segment so far.
    depth: usize,
    /// Product of literal repetition counts in the segment, and the
    /// largest such product of a bracket inside it.
    repeat: u64,
    child_repeat: u64,
    max_repeat: u64,
    /// A `[` that opens a list literal (not a subscript).
    is_list: bool,
}

impl Frame {
    fn new(is_list: bool) -> Frame {
        Frame { repeat: 1, child_repeat: 1, max_repeat: 1, is_list, ..Frame::default() }
    }
    fn end_segment(&mut self) {
        self.depth = self.depth.max(self.ops + 1 + self.child);
        self.max_repeat = self.max_repeat.max(self.repeat.saturating_mul(self.child_repeat));
        (self.ops, self.child, self.repeat, self.child_repeat) = (0, 0, 1, 1);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Tok<'a> {
    Str,
    Int(u64),
    Num,
    Ident(&'a str),
    Punct(&'a str),
}

fn tokens(expr: &str) -> impl Iterator<Item = Tok<'_>> {
    let bytes = expr.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        let c = *bytes.get(i)?;
        Some(match c {
            b'"' | b'\'' => {
                i = string_end(bytes, i, c);
                Tok::Str
            }
            b'0'..=b'9' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.') {
                    i += 1;
                }
                let text = expr[start..i].replace('_', "");
                text.parse().map_or(Tok::Num, Tok::Int)
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80) {
                    i += 1;
                }
                Tok::Ident(&expr[start..i])
            }
            _ => {
                let two = expr.get(i..i + 2).unwrap_or("");
                i += if matches!(two, "**" | "//" | "==" | "!=" | "<=" | ">=") { 2 } else { 1 };
                Tok::Punct(expr.get(start..i).unwrap_or(""))
            }
        })
    })
}

fn check_expression(expr: &str, template: &str) -> Result<(), ExpressionError> {
    let mut stack = vec![Frame::new(false)];
    let mut prev: Option<Tok> = None;
    // `*` seen with a literal list or string on its left, waiting for its count.
    let mut pending_repeat = false;
    // The last bracket closed was a list literal.
    let mut closed_list = false;
    let toks: Vec<Tok> = tokens(expr).collect();
    for (at, &tok) in toks.iter().enumerate() {
        let next = toks.get(at + 1).copied();
        let depth = stack.len();
        let top = &mut stack[depth - 1];
        if pending_repeat {
            pending_repeat = false;
            match tok {
                Tok::Int(n) => top.repeat = top.repeat.saturating_mul(n),
                _ => return Err(repeat_error(template)),
            }
        }
        let operand = !matches!(prev, Some(Tok::Punct(")" | "]" | "}")) | Some(Tok::Ident(_)) | Some(Tok::Str) | Some(Tok::Int(_)) | Some(Tok::Num));
        match tok {
            Tok::Punct("*") => {
                top.ops += 1;
                let left_literal = matches!(prev, Some(Tok::Str)) || (matches!(prev, Some(Tok::Punct("]"))) && closed_list);
                let right_literal = matches!(next, Some(Tok::Str | Tok::Punct("[")));
                if left_literal {
                    pending_repeat = true;
                } else if right_literal {
                    match prev {
                        Some(Tok::Int(n)) => top.repeat = top.repeat.saturating_mul(n),
                        _ => return Err(repeat_error(template)),
                    }
                }
            }
            Tok::Punct("(" | "[" | "{") => {
                top.ops += 1;
                if top.ops > MAX_EXPRESSION_DEPTH {
                    return Err(depth_error(template));
                }
                stack.push(Frame::new(tok == Tok::Punct("[") && operand));
                closed_list = false;
                prev = Some(tok);
                continue;
            }
            Tok::Punct(")" | "]" | "}") if depth > 1 => {
                let mut frame = stack.pop().expect("more than the root");
                frame.end_segment();
                closed_list = frame.is_list;
                let parent = stack.last_mut().expect("the root frame stays");
                parent.child = parent.child.max(frame.depth);
                parent.child_repeat = parent.child_repeat.max(frame.max_repeat);
                prev = Some(tok);
                continue;
            }
            Tok::Punct(",") => top.end_segment(),
            Tok::Punct(_) | Tok::Ident("and" | "or" | "not" | "in" | "is" | "if" | "else") => top.ops += 1,
            _ => {}
        }
        if stack[depth - 1].ops > MAX_EXPRESSION_DEPTH {
            return Err(depth_error(template));
        }
        closed_list = false;
        prev = Some(tok);
    }
    if pending_repeat {
        return Err(repeat_error(template));
    }
    // Close what is left open (minijinja reports the syntax error).
    while let Some(mut frame) = stack.pop() {
        frame.end_segment();
        match stack.last_mut() {
            Some(parent) => {
                parent.child = parent.child.max(frame.depth);
                parent.child_repeat = parent.child_repeat.max(frame.max_repeat);
            }
            None => {
                // +1: a bare `a, b` is a tuple around the segments.
                if frame.depth + 1 > MAX_EXPRESSION_DEPTH {
                    return Err(depth_error(template));
                }
                if frame.max_repeat > MAX_REPEAT {
                    return Err(repeat_error(template));
                }
            }
        }
    }
    Ok(())
}

fn depth_error(template: &str) -> ExpressionError {
    limit(
        format!("expression nests deeper than {MAX_EXPRESSION_DEPTH} levels (operators, filters, attributes and brackets in a chain)"),
        template,
    )
}

fn repeat_error(template: &str) -> ExpressionError {
    limit(
        format!("a literal list or string may only be repeated by integer literals, into at most {MAX_REPEAT} copies"),
        template,
    )
}
