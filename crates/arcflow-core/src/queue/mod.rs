//! Durable queues of runs for many workers on one database (issue 13; the
//! design is `docs/workers.md`): producers [`Queue::enqueue`] runs as
//! `queued` rows of `runs`; workers [`Queue::claim`] them in batches, hold
//! them under a lease they [`Queue::renew`] in one statement, and lose them
//! when the lease expires (another worker takes the run over, with the
//! run's `epoch` bumped: the fence of every write the flush thread commits
//! for it, see [`crate::store::WriteBehind::fence`]).
//!
//! One interface, opened by URL like the store ([`open`]); SQLite and
//! PostgreSQL implement it on their own store types (`store/sqlite/queue.rs`,
//! `store/postgres/queue.rs`), on a connection of their own. Only the
//! database's clock decides what is due and what has expired.

mod listen;

pub use listen::{listen, Listener};
pub(crate) use listen::{ended_payload, ids_payload};

use crate::error::{Error, Result};
use crate::store::{PostgresStore, SqliteStore};

/// A run to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// The run's id (the caller makes it unique; an id already taken is a
    /// permanent `Store` error).
    pub id: String,
    pub workflow: String,
    /// The run's input, as JSON text.
    pub input: String,
    pub queue: String,
    /// The idempotency key: a run enqueued with a key that is taken is not
    /// created; the key's run is answered instead, whatever its state.
    pub key: Option<String>,
    /// Higher first.
    pub priority: i32,
    /// Milliseconds since the epoch from which the run may be claimed;
    /// `None`: now, by the database's clock.
    pub run_at: Option<i64>,
    /// The account that pays for the run.
    pub account: Option<String>,
    /// When it was enqueued (the run's `started_at` until it ends).
    pub at: i64,
}

/// What [`Queue::enqueue`] made of one [`NewRun`], in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub id: String,
    /// False: the key was taken, `id` is the key's existing run.
    pub created: bool,
    /// The run's status (`queued` for a new one).
    pub status: String,
}

/// What a worker asks [`Queue::claim`] for.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// The worker's id: the owner of what it claims.
    pub worker: &'a str,
    pub queues: &'a [String],
    /// Runs at most (0 claims nothing).
    pub limit: u32,
    /// The lease's length, from the database's now.
    pub lease_ms: i64,
}

/// A run a worker now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: String,
    pub workflow: String,
    pub workflow_hash: Option<String>,
    pub input: String,
    pub account: Option<String>,
    /// The claim's fence: register it with `WriteBehind::fence`.
    pub epoch: u64,
    /// Claimed before (its lease expired, or it was released): resume it
    /// from its snapshot and journal rather than start it.
    pub taken_over: bool,
}

/// What [`Queue::request_cancel`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelAsked {
    /// The run was queued: it ended `cancelled` now, before it started.
    Cancelled,
    /// The run is running: the request is recorded on it for its holder
    /// (`owner`, the worker's id; `None`: a run started in some process
    /// rather than claimed from a queue), who reads it with [`Queue::cancels`].
    Forwarded { owner: Option<String> },
    /// The run had already ended, with this status.
    Ended { status: String },
    /// No such run.
    Unknown,
}

/// A wake-up a [`Listener`] received (PostgreSQL `NOTIFY arcflow`).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Runs were enqueued on these queues.
    Enqueued(Vec<String>),
    /// These runs ended; `None`: too many to name, re-check what you wait for.
    Ended(Option<Vec<String>>),
    /// Cancellation was asked for these runs.
    Cancel(Vec<String>),
    /// A batch of writes of these runs (held by workers) committed; `None`:
    /// too many to name.
    Written(Option<Vec<String>>),
    /// A signal was stored for these runs from outside their process;
    /// `None`: too many to name.
    Signalled(Option<Vec<String>>),
    /// The connection was lost and opened again: notices may have been
    /// missed meanwhile, re-check everything.
    Missed,
}

/// Queued runs, claims, leases and cancel requests (see the module's doc).
/// Every call is one transaction.
pub trait Queue: Send {
    /// Enqueues a batch, in one transaction; answers each run in order. A
    /// key already taken (by a committed run, or earlier in the batch)
    /// answers that run, also when many processes enqueue it at once.
    fn enqueue(&mut self, runs: &[NewRun]) -> Result<Vec<Enqueued>>;
    /// Claims up to `limit` runs of `queues`: queued and due, or running
    /// under an expired lease (a takeover, `epoch` bumped), highest
    /// priority first, then earliest `run_at`, within each queue's
    /// concurrency limit ([`Queue::set_limit`]). One transaction per batch;
    /// no run is claimed twice by concurrent claimers.
    fn claim(&mut self, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>>;
    /// Extends, in one statement, the lease of every run `worker` holds to
    /// now + `lease_ms`; answers the runs `(id, epoch)` it still holds.
    fn renew(&mut self, worker: &str, lease_ms: i64) -> Result<Vec<(String, u64)>>;
    /// Puts runs `worker` holds at these epochs back to `queued`, for
    /// another worker to take over (a stop without draining). A run it no
    /// longer holds is left alone.
    fn release(&mut self, worker: &str, runs: &[(String, u64)]) -> Result<()>;
    /// Asks for run `id` to be cancelled with `policy` (see [`CancelAsked`]).
    fn request_cancel(&mut self, id: &str, policy: &str) -> Result<CancelAsked>;
    /// The cancel requests `(run id, policy)` of runs `worker` holds. A
    /// request is answered until its run ends.
    fn cancels(&mut self, worker: &str) -> Result<Vec<(String, String)>>;
    /// The limit of runs of `queue` running at once across all workers
    /// (`None`: no limit).
    fn set_limit(&mut self, queue: &str, concurrency: Option<u32>) -> Result<()>;
    /// Runs of `queues` queued and due now.
    fn depth(&mut self, queues: &[String]) -> Result<u64>;
    /// The database's clock, in milliseconds since the epoch.
    fn now_ms(&mut self) -> Result<i64>;
}

/// Opens the queue of the store `url` names (the same URLs as
/// [`crate::store::open`]: `sqlite:PATH[?locking=..]`, `postgres://...`),
/// on a connection of its own; the schema is migrated as the store's open does.
///
/// ```no_run
/// use arcflow_core::queue::{self, ClaimRequest};
/// let mut q = queue::open("sqlite:./arcflow.db")?;
/// let queues = ["default".to_owned()];
/// let runs = q.claim(&ClaimRequest { worker: "w1", queues: &queues, limit: 10, lease_ms: 30_000 })?;
/// # Ok::<(), arcflow_core::Error>(())
/// ```
pub fn open(url: &str) -> Result<Box<dyn Queue>> {
    crate::store::open_with::<Box<dyn Queue>>(url, |path| Ok(Box::new(SqliteStore::open(path)?)), |url| Ok(Box::new(PostgresStore::open(url)?)))
}

impl ClaimRequest<'_> {
    /// The request checked (a positive lease, named queues): its queues,
    /// each once, or `None` when it asks for nothing.
    pub(crate) fn checked(&self) -> Result<Option<Vec<&str>>> {
        check_lease(self.lease_ms)?;
        let queues = checked_queues(self.queues)?;
        Ok((self.limit > 0 && !queues.is_empty()).then_some(queues))
    }
}

impl Claimed {
    /// A run claimed at `epoch`: a takeover past the first claim.
    pub(crate) fn new(id: String, workflow: String, workflow_hash: Option<String>, input: String, account: Option<String>, epoch: u64) -> Self {
        Claimed { id, workflow, workflow_hash, input, account, epoch, taken_over: epoch > 1 }
    }
}

/// A queue's name, checked: an empty one is a caller's mistake.
pub(crate) fn check_queue_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_value("a queue name must not be empty"));
    }
    Ok(())
}

/// Queue names, checked, each once.
pub(crate) fn checked_queues(queues: &[String]) -> Result<Vec<&str>> {
    let mut names: Vec<&str> = Vec::with_capacity(queues.len());
    for name in queues {
        check_queue_name(name)?;
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A lease's length, checked: positive.
pub(crate) fn check_lease(lease_ms: i64) -> Result<()> {
    if lease_ms <= 0 {
        return Err(Error::invalid_value(format!("a lease must be positive, not {lease_ms} ms")));
    }
    Ok(())
}

/// A batch to enqueue, checked: ids and queue names not empty.
pub(crate) fn check_new_runs(runs: &[NewRun]) -> Result<()> {
    for run in runs {
        if run.id.is_empty() {
            return Err(Error::invalid_value("a queued run needs an id"));
        }
        check_queue_name(&run.queue)?;
    }
    Ok(())
}

/// Candidates of one claim, from every queue asked: picks the best
/// (priority, then due time) within each queue's room and the batch's limit.
/// `room` is `(queue, free slots)`; a candidate is `(id, queue, priority, run_at)`.
pub(crate) fn pick(mut candidates: Vec<(String, String, i64, i64)>, room: &[(&str, i64)], limit: usize) -> Vec<String> {
    candidates.sort_by(|a, b| b.2.cmp(&a.2).then(a.3.cmp(&b.3)));
    let mut taken: Vec<(&str, i64)> = room.to_vec();
    let mut picked = Vec::new();
    for (id, queue, _, _) in candidates {
        if picked.len() == limit {
            break;
        }
        if let Some(slot) = taken.iter_mut().find(|(q, _)| *q == queue) {
            if slot.1 > 0 {
                slot.1 -= 1;
                picked.push(id);
            }
        }
    }
    picked
}
