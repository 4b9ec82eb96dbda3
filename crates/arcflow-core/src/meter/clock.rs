//! The clock a leasing meter checks its block's lease against on the hot
//! path: monotonic nanoseconds, read cheaply (Linux: the coarse clock, a
//! few ns and a few ms of resolution, far finer than a lease's margin).

/// Monotonic nanoseconds (from an arbitrary start).
#[cfg(target_os = "linux")]
pub(super) fn now_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to write into; CLOCK_MONOTONIC_COARSE exists on every Linux we build for
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

#[cfg(not(target_os = "linux"))]
pub(super) fn now_ns() -> i64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_nanos() as i64
}
