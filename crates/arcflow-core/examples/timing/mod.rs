//! The timing loop the cost examples share (not an example itself).
use std::time::Instant;

/// Runs `f` `n / 10` times to warm up, then `n` times; prints ns per call.
pub fn time(label: &str, n: u32, mut f: impl FnMut()) {
    for _ in 0..n / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    println!("{label:40} {:>8.0} ns", start.elapsed().as_nanos() as f64 / f64::from(n));
}
