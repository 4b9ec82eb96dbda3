//! A bounded cache of compiled templates keyed by source, so that
//! `ctx.render("{{ x }}")` with a plain string does not parse every time.

use std::sync::{Arc, LazyLock};

use dashmap::DashMap;

use super::template::{compile, CompileOptions, Template};
use crate::error::Result;

const CAPACITY: usize = 4096;

/// One map per strictness, so a lookup borrows the source instead of
/// building a key.
static CACHE: LazyLock<[DashMap<String, Arc<Template>>; 2]> = LazyLock::new(Default::default);

/// Compiles `source`, or returns the template compiled for it before.
/// The cache holds at most 4,096 templates; when full it starts over.
pub fn compile_cached(source: &str, options: CompileOptions) -> Result<Arc<Template>> {
    let cache = &CACHE[usize::from(options.strict)];
    if let Some(found) = cache.get(source) {
        return Ok(found.clone());
    }
    let template = Arc::new(compile(source, options)?);
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(source.to_owned(), template.clone());
    Ok(template)
}
