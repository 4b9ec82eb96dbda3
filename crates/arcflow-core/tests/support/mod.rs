//! What several test binaries share (`mod support;`).

pub mod postgres;
pub mod plans;
