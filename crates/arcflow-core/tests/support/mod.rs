//! What several test binaries share (`mod support;`).

pub mod postgres;
