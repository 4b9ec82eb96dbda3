//! How the flush thread competes for the CPU. Its commits are background
//! work, and on a machine with few cores a batch's transaction holding a
//! core shows up as event-loop delay: in a 100,000-item `batched` run,
//! most of the JS thread's turns over 2 ms late were the thread runnable
//! behind this one (`perf sched timehist`: 2.5 to 4.5 ms of scheduling
//! delay, up to a tick), even at nice 10, since a woken thread waits for
//! the running one's slice. A `SCHED_IDLE` thread is preempted by any
//! waking thread at once; so between waits, when nothing waits for its
//! commits, the flush thread runs `SCHED_IDLE`, and while something does
//! (`sync`, a full queue's backpressure, a flush, closing) or it is late
//! (its oldest unwritten write waited past twice the flush interval: a
//! busy machine starves a `SCHED_IDLE` thread) at nice 10. Where
//! the process may not bring a thread back from `SCHED_IDLE` (no
//! `CAP_SYS_NICE`, `RLIMIT_NICE` under 10) it stays at nice 10.

/// The flush thread's scheduling, under the queue's lock.
#[derive(Debug, Default)]
pub(super) struct Priority {
    /// The flush thread's id (0: not started yet).
    tid: i32,
    /// It may go `SCHED_IDLE` (and come back).
    can_idle: bool,
    idle: bool,
}

impl Priority {
    /// On the flush thread, once: nice 10, and whether it may go `SCHED_IDLE`.
    pub(super) fn start(&mut self) {
        self.tid = os::gettid();
        os::set_nice(self.tid, 10);
        // raising the thread back from SCHED_IDLE needs what lowering its nice value needs
        self.can_idle = os::set_nice(self.tid, 9);
        os::set_nice(self.tid, 10);
    }

    /// Nothing waits for a commit: `SCHED_IDLE` (where it may).
    pub(super) fn background(&mut self) {
        if self.can_idle && !self.idle && os::set_idle(self.tid, true) {
            self.idle = true;
        }
    }

    /// Something waits for a commit: back at nice 10 (from any thread).
    pub(super) fn waited(&mut self) {
        if self.idle && os::set_idle(self.tid, false) {
            self.idle = false;
        }
    }

    /// Whether it runs `SCHED_IDLE` now (for tests).
    pub(super) fn is_idle(&self) -> bool {
        self.idle
    }
}

#[cfg(target_os = "linux")]
mod os {
    pub fn gettid() -> i32 {
        // the raw syscall: glibc's gettid() wrapper needs glibc 2.30
        // SAFETY: gettid takes no arguments and cannot fail
        unsafe { libc::syscall(libc::SYS_gettid) as i32 }
    }

    /// Sets thread `tid`'s nice value; false if refused.
    pub fn set_nice(tid: i32, nice: i32) -> bool {
        // SAFETY: setpriority on a thread id of this process, with a valid nice value
        unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0 }
    }

    /// Thread `tid` to `SCHED_IDLE` or back to `SCHED_OTHER` (its nice value kept); false if refused.
    pub fn set_idle(tid: i32, idle: bool) -> bool {
        let param = libc::sched_param { sched_priority: 0 };
        let policy = if idle { libc::SCHED_IDLE } else { libc::SCHED_OTHER };
        // SAFETY: sched_setscheduler on a thread id of this process, with a valid policy and parameter
        unsafe { libc::sched_setscheduler(tid, policy, &param) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    pub fn gettid() -> i32 {
        0
    }
    pub fn set_nice(_tid: i32, _nice: i32) -> bool {
        false
    }
    pub fn set_idle(_tid: i32, _idle: bool) -> bool {
        false
    }
}
