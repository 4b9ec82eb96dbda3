//! Dotted paths into the context: `tasks.fetch.result.rows[0].name`,
//! `vars["a key"]`, `item.id`.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Parses a path. Names are any run of characters other than `.`, `[`, `]`,
/// quotes and whitespace; `[n]` indexes a list; `["..."]` or `['...']` holds
/// any key (with `\` escaping the quote).
///
/// ```
/// use arcflow_core::{parse_path, PathSegment::*};
/// assert_eq!(parse_path("a.b[2]").unwrap(), vec![Key("a".into()), Key("b".into()), Index(2)]);
/// ```
pub fn parse_path(path: &str) -> Result<Vec<PathSegment>> {
    let chars: Vec<char> = path.chars().collect();
    let fail = |pos: usize, what: &str| {
        Error::context(format!("malformed path {path:?} at column {}: {what}", pos + 1), Some(path))
    };
    let mut segments = Vec::new();
    let mut i = 0;
    let mut expect_name = true;
    if chars.is_empty() {
        return Err(fail(0, "the path is empty"));
    }
    while i < chars.len() {
        let c = chars[i];
        if expect_name {
            let start = i;
            while i < chars.len() && is_name_char(chars[i]) {
                i += 1;
            }
            if start == i {
                return Err(fail(i, "expected a name"));
            }
            segments.push(PathSegment::Key(chars[start..i].iter().collect()));
            expect_name = false;
        } else if c == '.' {
            i += 1;
            expect_name = true;
            if i == chars.len() {
                return Err(fail(i, "expected a name after '.'"));
            }
        } else if c == '[' {
            i += 1;
            match chars.get(i) {
                Some(q @ ('"' | '\'')) => {
                    let quote = *q;
                    i += 1;
                    let mut key = String::new();
                    loop {
                        match chars.get(i) {
                            None => return Err(fail(i, "unterminated quoted key")),
                            Some('\\') if i + 1 < chars.len() => {
                                key.push(chars[i + 1]);
                                i += 2;
                            }
                            Some(&ch) if ch == quote => {
                                i += 1;
                                break;
                            }
                            Some(&ch) => {
                                key.push(ch);
                                i += 1;
                            }
                        }
                    }
                    segments.push(PathSegment::Key(key));
                }
                Some(d) if d.is_ascii_digit() => {
                    let start = i;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                    let digits: String = chars[start..i].iter().collect();
                    let index = digits.parse().map_err(|_| fail(start, "index is too large"))?;
                    segments.push(PathSegment::Index(index));
                }
                _ => return Err(fail(i, "expected an index or a quoted key after '['")),
            }
            if chars.get(i) != Some(&']') {
                return Err(fail(i, "expected ']'"));
            }
            i += 1;
        } else {
            return Err(fail(i, "expected '.' or '['"));
        }
    }
    Ok(segments)
}

fn is_name_char(c: char) -> bool {
    !matches!(c, '.' | '[' | ']' | '"' | '\'') && !c.is_whitespace()
}

#[cfg(test)]
mod tests {
    use super::PathSegment::*;
    use super::*;

    #[test]
    fn parses_names_indexes_and_quoted_keys() {
        assert_eq!(
            parse_path(r#"tasks.fetch-data.result.rows[10]["a.b"]['it\'s'].name"#).unwrap(),
            vec![
                Key("tasks".into()),
                Key("fetch-data".into()),
                Key("result".into()),
                Key("rows".into()),
                Index(10),
                Key("a.b".into()),
                Key("it's".into()),
                Key("name".into())
            ]
        );
    }

    #[test]
    fn malformed_paths_say_where() {
        for (path, column, what) in [
            ("", 1, "empty"),
            ("a..b", 3, "expected a name"),
            ("a.", 3, "after '.'"),
            ("a[x]", 3, "expected an index"),
            ("a[1", 4, "expected ']'"),
            ("a['x", 5, "unterminated"),
            ("a b", 2, "expected '.' or '['"),
            (".a", 1, "expected a name"),
        ] {
            let err = parse_path(path).unwrap_err().to_string();
            assert!(err.contains(&format!("column {column}")) && err.contains(what), "{path}: {err}");
        }
    }
}
