//! What a `postgres://` URL says, as the client reads it, minus arcflow's
//! own parameter (`schema`); and the URL as it may be shown: never with its
//! password.

use crate::error::{Error, Result};

/// A URL split into the client's part and arcflow's `schema`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Target {
    /// The URL without `schema=`: what `postgres::Config` parses.
    pub client_url: String,
    /// `?schema=NAME`: created if missing, the `search_path` of every statement.
    pub schema: Option<String>,
    /// The URL's password, kept only to scrub it from messages.
    pub password: Option<String>,
}

/// Splits `url` (`postgres://` or `postgresql://`, already checked).
pub(super) fn parse(url: &str) -> Result<Target> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", name)) => schema = Some(checked_schema(name)?),
            _ => rest.push(pair),
        }
    }
    let client_url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    Ok(Target { client_url, schema, password: password(base) })
}

/// A schema name arcflow accepts: an SQL identifier of letters, digits and
/// `_` (not starting with a digit), at most 63 bytes; quoted, so case is kept.
fn checked_schema(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid_value(format!(
            "the store URL's schema {name:?} is not a plain name: use letters, digits and _ (at most 63, not starting with a digit)"
        )))
    }
}

/// The password of `scheme://user:password@host...`, if any.
fn password(base: &str) -> Option<String> {
    let rest = base.split_once("://")?.1;
    // the authority ends at the first '/' after the last '@' of the user info
    let authority = rest.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

impl Target {
    /// `text` with the URL's password (as written, and percent-decoded) masked.
    pub fn scrub(&self, text: String) -> String {
        match &self.password {
            Some(p) => {
                let decoded = percent_decode(p);
                let text = text.replace(p.as_str(), "***");
                if decoded.is_empty() { text } else { text.replace(decoded.as_str(), "***") }
            }
            None => text,
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_taken_out_and_the_rest_kept() {
        let t = parse("postgres://u:p%40ss@h:5/db?sslmode=disable&schema=tenant_1&application_name=x").unwrap();
        assert_eq!(t.client_url, "postgres://u:p%40ss@h:5/db?sslmode=disable&application_name=x");
        assert_eq!(t.schema.as_deref(), Some("tenant_1"));
        assert_eq!(t.scrub("a p%40ss b p@ss c".into()), "a *** b *** c");
        let t = parse("postgresql://h/db?schema=A").unwrap();
        assert_eq!((t.client_url.as_str(), t.schema.as_deref(), t.password), ("postgresql://h/db", Some("A"), None));
    }

    #[test]
    fn a_schema_that_is_not_a_plain_name_is_refused() {
        for bad in ["", "1a", "a-b", "a;drop", "a\"b", &"x".repeat(64)] {
            let err = parse(&format!("postgres://h/db?schema={bad}")).unwrap_err();
            assert_eq!(err.code(), "ARCFLOW_INVALID_VALUE", "{bad:?}");
        }
    }
}
