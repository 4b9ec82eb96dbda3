//! The backend contract: what every [`Store`] must do, as tests any backend
//! runs unchanged (`contract_tests!(open)` makes one `#[test]` per rule).
//! These are the rules the engine relies on; nothing here may depend on
//! how one backend keeps its data (backend-specific checks live beside the
//! backend, e.g. `tests/store/`).

use arcflow_core::store::{EventRecord, Execution, LedgerKey, LedgerWrite, RunFilter, Store, Write};

mod fence;
mod links;
mod queue;
mod start_keys;
pub use fence::*;
pub use links::*;
pub use queue::*;
pub use start_keys::*;

/// A fresh, empty store of one backend, for one test (cleaned up on drop).
pub trait Backend {
    fn store(&mut self) -> &mut dyn Store;
    /// From now on, refuse (with a permanent error) any write of an event
    /// whose message is `message`: a constraint of the backend's own, so
    /// that a test can make one write of a batch fail.
    fn refuse_events_saying(&mut self, message: &str);
    /// The store's URL, for more connections to it (queues, writers).
    fn url(&self) -> String;
}

/// One `#[test]` per rule, each over `$open()` (a [`Backend`]).
macro_rules! contract_tests {
    ($open:expr) => {
        crate::contract::contract_tests!(@rules $open;
            a_ledger_entry_applies_once_per_key,
            a_ledger_entry_and_its_balance_move_together,
            a_failed_run_end_cancels_the_executions_still_running,
            a_running_write_and_the_write_that_ends_it_give_one_row_with_both_times,
            tasks_come_in_journal_order_after_a_position,
            an_activation_lists_its_items_and_attempts_in_order,
            an_item_row_keeps_the_input_its_one_write_carried,
            the_latest_snapshot_wins,
            runs_are_filtered_and_newest_first,
            a_resumed_run_keeps_its_input_and_start,
            events_come_oldest_first,
            the_ledger_comes_newest_first_within_its_limit,
            apply_is_all_or_nothing,
            a_workflow_version_is_kept_once_per_name_and_hash,
            a_run_carries_its_workflow_version,
            an_enqueued_run_is_queued_and_its_key_makes_it_once,
            concurrent_enqueues_with_one_key_create_one_run,
            claims_come_by_priority_then_due_time_in_batches,
            a_delayed_run_is_claimed_once_it_is_due,
            concurrent_claimers_take_each_run_once,
            a_queue_limit_holds_across_claimers,
            an_expired_lease_is_taken_over_with_the_next_epoch,
            renew_answers_every_run_held_and_keeps_them,
            a_released_run_goes_back_for_another_worker,
            a_cancel_request_depends_on_the_run_state,
            a_claimed_run_keeps_its_lease_through_its_start_and_loses_it_at_its_end,
            bad_queue_requests_are_refused_clearly,
            a_taken_over_runs_writes_are_refused_whole_and_the_rest_lands,
            a_fenced_out_run_stays_refused_when_a_bad_write_splits_its_batch,
            a_child_run_reads_back_linked_to_its_parent,
            a_start_key_finds_the_newest_run_it_started,
            a_start_key_is_claimed_once_and_answers_its_run_until_it_fails,
            a_start_key_gives_way_to_a_known_failure_an_orphan_and_a_release,
            concurrent_claims_of_one_key_make_one_holder,
            a_cached_result_is_read_until_it_expires_and_a_put_replaces_it,
            a_cache_clear_drops_what_it_names,
            a_parked_run_reads_waiting_until_it_runs_on_or_ends,
            signals_received_and_not_taken_come_back_in_order,
        );
    };
    (@rules $open:expr; $($rule:ident),* $(,)?) => {
        $(
            #[test]
            fn $rule() {
                let mut backend = $open();
                crate::contract::$rule(&mut backend);
            }
        )*
    };
}
pub(crate) use contract_tests;

fn started(id: &str, workflow: &str, started_at: i64) -> Write {
    Write::RunStarted { id: id.into(), workflow: workflow.into(), workflow_hash: None, input: "{\"n\":1}".into(), started_at, account: None }
}

fn ended(id: &str, status: &str, ended_at: i64) -> Write {
    Write::RunEnded { id: id.into(), status: status.into(), output: None, error: None, ended_at }
}

fn execution(run: &str, task: &str, status: &'static str, jseq: u64) -> Execution {
    Execution {
        run_id: run.into(),
        task: task.into(),
        step: 1,
        item: -1,
        attempt: 1,
        status,
        payload: None,
        input: None,
        started_at: None,
        ended_at: None,
        jseq,
    }
}

fn task(run: &str, name: &str, status: &'static str, jseq: u64) -> Write {
    Write::Task(execution(run, name, status, jseq))
}

fn event(run: &str, message: &str, at: i64) -> Write {
    Write::Event(EventRecord { run_id: run.into(), kind: "task.log".into(), task: Some("a".into()), item: Some(2), attempt: Some(1), message: message.into(), data: Some("{\"x\":1}".into()), at })
}

fn credit(account: &str, amount: i64, key: &str, at: i64) -> Write {
    Write::Ledger(LedgerWrite { account: account.into(), amount, kind: "credit", key: LedgerKey::Given(key.into()), at, lease: None })
}

fn charge(account: &str, run: &str, task: &str, item: i64, amount: i64, at: i64) -> Write {
    let key = LedgerKey::Unit { run_id: run.into(), task: task.into(), step: 1, item, attempt: 1 };
    Write::Ledger(LedgerWrite { account: account.into(), amount: -amount, kind: "charge", key, at, lease: None })
}

fn names(tasks: &[Execution]) -> Vec<&str> {
    tasks.iter().map(|t| &*t.task).collect()
}

pub fn a_ledger_entry_applies_once_per_key(backend: &mut impl Backend) {
    let store = backend.store();
    let batch = [credit("acme", 100, "top-up", 1), charge("acme", "r", "a", -1, 7, 2)];
    store.apply(&batch).unwrap();
    // a second delivery of the batch, then of one of its keys alone
    store.apply(&batch).unwrap();
    store.apply(&[credit("acme", 100, "top-up", 3)]).unwrap();
    assert_eq!(store.balance("acme").unwrap(), Some(93), "100 credited once, 7 charged once");
    assert_eq!(store.ledger("acme", 10).unwrap().len(), 2);
    let charge_key = match &batch[1] {
        Write::Ledger(l) => l.key_text(),
        _ => unreachable!(),
    };
    assert!(store.ledger_has(&charge_key).unwrap());
    assert!(store.ledger_has("credit/top-up").unwrap());
    assert!(!store.ledger_has("credit/another").unwrap());
    assert_eq!(store.balance("nobody").unwrap(), None, "no such account");
}

pub fn a_ledger_entry_and_its_balance_move_together(backend: &mut impl Backend) {
    backend.refuse_events_saying("refused");
    let store = backend.store();
    store.apply(&[credit("acme", 10, "first", 1)]).unwrap();
    let failed = store.apply(&[credit("acme", 50, "second", 2), event("r", "refused", 2)]);
    assert!(failed.is_err());
    assert_eq!(store.balance("acme").unwrap(), Some(10), "neither the entry nor its balance moved");
    assert!(!store.ledger_has("credit/second").unwrap());
    // the entry was not kept: delivered again, it applies
    store.apply(&[credit("acme", 50, "second", 3)]).unwrap();
    assert_eq!(store.balance("acme").unwrap(), Some(60));
}

pub fn a_failed_run_end_cancels_the_executions_still_running(backend: &mut impl Backend) {
    let store = backend.store();
    let mut done = execution("r", "done", "succeeded", 2);
    done.ended_at = Some(20);
    store
        .apply(&[
            started("r", "wf", 1),
            task("r", "open", "running", 1),
            Write::Task(done),
            task("r", "again", "retrying", 3),
            started("other", "wf", 1),
            task("other", "open", "running", 1),
        ])
        .unwrap();
    store.apply(&[ended("r", "failed", 50)]).unwrap();
    let tasks = store.tasks("r", 0).unwrap();
    let by_name = |name: &str| tasks.iter().find(|t| &*t.task == name).unwrap();
    assert_eq!((by_name("open").status, by_name("open").ended_at), ("cancelled", Some(50)), "ended with the run");
    assert_eq!((by_name("done").status, by_name("done").ended_at), ("succeeded", Some(20)), "an ended execution is kept");
    assert_eq!(by_name("again").status, "retrying", "only `running` executions are cancelled");
    assert_eq!(store.tasks("other", 0).unwrap()[0].status, "running", "another run's executions are not touched");
    let run = store.get_run("r").unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.ended_at), ("failed", Some(50)));

    // a run that succeeds cancels nothing
    store.apply(&[ended("other", "succeeded", 60)]).unwrap();
    assert_eq!(store.tasks("other", 0).unwrap()[0].status, "running");
}

pub fn a_running_write_and_the_write_that_ends_it_give_one_row_with_both_times(backend: &mut impl Backend) {
    let store = backend.store();
    let running = |run: &str| {
        let mut e = execution(run, "a", "running", 1);
        e.started_at = Some(10);
        e.input = Some("{\"in\":1}".into());
        e
    };
    let end = |run: &str| {
        let mut e = execution(run, "a", "succeeded", 2);
        e.ended_at = Some(20);
        e.payload = Some("\"out\"".into());
        e
    };
    // in one batch; in two; merged into one write (as the write-behind queue does)
    store.apply(&[Write::Task(running("same")), Write::Task(end("same"))]).unwrap();
    store.apply(&[Write::Task(running("two"))]).unwrap();
    store.apply(&[Write::Task(end("two"))]).unwrap();
    let mut merged = end("merged");
    merged.started_at = Some(10);
    merged.input = Some("{\"in\":1}".into());
    store.apply(&[Write::Task(merged)]).unwrap();
    for run in ["same", "two", "merged"] {
        let rows = store.tasks(run, 0).unwrap();
        assert_eq!(rows.len(), 1, "{run}: one row per execution");
        let row = &rows[0];
        assert_eq!((row.status, row.started_at, row.ended_at, row.jseq), ("succeeded", Some(10), Some(20), 2), "{run}");
        assert_eq!((row.input.as_deref(), row.payload.as_deref()), (Some("{\"in\":1}"), Some("\"out\"")), "{run}");
    }
}

pub fn tasks_come_in_journal_order_after_a_position(backend: &mut impl Backend) {
    let store = backend.store();
    store.apply(&[task("r", "c", "succeeded", 3), task("r", "a", "succeeded", 1), task("other", "x", "succeeded", 2)]).unwrap();
    store.apply(&[task("r", "b", "succeeded", 2)]).unwrap();
    assert_eq!(names(&store.tasks("r", 0).unwrap()), ["a", "b", "c"]);
    assert_eq!(names(&store.tasks("r", 1).unwrap()), ["b", "c"], "after 1: positions 2 and 3");
    assert!(store.tasks("r", 3).unwrap().is_empty());
    // a later write of an execution moves it to its new position
    store.apply(&[task("r", "a", "failed", 4)]).unwrap();
    assert_eq!(names(&store.tasks("r", 0).unwrap()), ["b", "c", "a"]);
    assert!(store.tasks("nobody", 0).unwrap().is_empty());
}

pub fn an_activation_lists_its_items_and_attempts_in_order(backend: &mut impl Backend) {
    let store = backend.store();
    let unit = |item: i64, attempt: u32, step: u32, jseq: u64| {
        Write::Task(Execution { item, attempt, step, ..execution("r", "each", "succeeded", jseq) })
    };
    store.apply(&[unit(1, 2, 1, 1), unit(0, 1, 1, 2), unit(1, 1, 1, 3), unit(0, 1, 2, 4), unit(-1, 1, 1, 5)]).unwrap();
    let rows = store.activation("r", "each", 1).unwrap();
    let keys: Vec<(i64, u32)> = rows.iter().map(|e| (e.item, e.attempt)).collect();
    assert_eq!(keys, [(-1, 1), (0, 1), (1, 1), (1, 2)], "step 1 only, by item then attempt");
}

/// An item's row is written once, when its attempt ends (no `running`
/// row): that write's input is kept, a later write without one does not
/// erase it, and each attempt's row keeps its own.
pub fn an_item_row_keeps_the_input_its_one_write_carried(backend: &mut impl Backend) {
    let store = backend.store();
    let item = |attempt: u32, status: &'static str, input: Option<&str>, jseq: u64| {
        Write::Task(Execution { item: 3, attempt, input: input.map(Into::into), started_at: Some(10), ended_at: Some(20), ..execution("r", "each", status, jseq) })
    };
    // a retried item: its first attempt `retrying`, then its second ended, in one batch and in two
    store.apply(&[item(1, "retrying", Some("{\"round\":1}"), 1), item(2, "succeeded", Some("{\"round\":2}"), 2)]).unwrap();
    store.apply(&[item(3, "failed", Some("{\"round\":3}"), 3)]).unwrap();
    // a later write of an attempt's row without an input keeps the one it had
    store.apply(&[item(3, "failed", None, 4)]).unwrap();
    let rows = store.activation("r", "each", 1).unwrap();
    let inputs: Vec<(u32, &str, Option<&str>)> = rows.iter().map(|e| (e.attempt, e.status, e.input.as_deref())).collect();
    assert_eq!(inputs, [(1, "retrying", Some("{\"round\":1}")), (2, "succeeded", Some("{\"round\":2}")), (3, "failed", Some("{\"round\":3}"))]);
}

pub fn the_latest_snapshot_wins(backend: &mut impl Backend) {
    let store = backend.store();
    store.apply(&[Write::Snapshot { run_id: "r".into(), jseq: 5, state: "five".into() }]).unwrap();
    store.apply(&[Write::Snapshot { run_id: "r".into(), jseq: 9, state: "nine".into() }]).unwrap();
    assert_eq!(store.snapshot("r").unwrap(), Some((9, "nine".into())));
    assert_eq!(store.snapshot("other").unwrap(), None);
}

pub fn runs_are_filtered_and_newest_first(backend: &mut impl Backend) {
    let store = backend.store();
    store
        .apply(&[
            started("old", "wf", 1),
            started("new", "wf", 3),
            started("b-tie", "other", 2),
            started("a-tie", "wf", 2),
            ended("old", "succeeded", 5),
        ])
        .unwrap();
    let ids = |filter: RunFilter, store: &mut dyn Store| store.runs(&filter).unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(RunFilter::default(), store), ["new", "a-tie", "b-tie", "old"], "newest first, ties by id");
    assert_eq!(ids(RunFilter { status: Some("running".into()), ..RunFilter::default() }, store), ["new", "a-tie", "b-tie"]);
    assert_eq!(ids(RunFilter { workflow: Some("wf".into()), ..RunFilter::default() }, store), ["new", "a-tie", "old"]);
    let both = RunFilter { status: Some("succeeded".into()), workflow: Some("wf".into()), limit: None };
    assert_eq!(ids(both, store), ["old"]);
    assert_eq!(ids(RunFilter { limit: Some(2), ..RunFilter::default() }, store), ["new", "a-tie"]);
    let run = store.get_run("old").unwrap().unwrap();
    assert_eq!((run.workflow.as_str(), run.status.as_str(), run.input.as_str(), run.started_at, run.ended_at), ("wf", "succeeded", "{\"n\":1}", 1, Some(5)));
    assert_eq!(store.get_run("nobody").unwrap(), None);
}

pub fn a_resumed_run_keeps_its_input_and_start(backend: &mut impl Backend) {
    let store = backend.store();
    store.apply(&[started("r", "wf", 1), Write::RunEnded { id: "r".into(), status: "failed".into(), output: None, error: Some("\"boom\"".into()), ended_at: 5 }]).unwrap();
    let again = Write::RunStarted { id: "r".into(), workflow: "wf".into(), workflow_hash: None, input: "{\"n\":2}".into(), started_at: 9, account: None };
    store.apply(&[again]).unwrap();
    let run = store.get_run("r").unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.ended_at), ("running", None), "running again");
    assert_eq!((run.input.as_str(), run.started_at), ("{\"n\":1}", 1), "its input and start are kept");
}

pub fn events_come_oldest_first(backend: &mut impl Backend) {
    let store = backend.store();
    store.apply(&[event("r", "one", 5), event("other", "elsewhere", 1), event("r", "two", 5)]).unwrap();
    store.apply(&[event("r", "three", 4)]).unwrap();
    let events = store.events("r").unwrap();
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["one", "two", "three"], "in the order written");
    let EventRecord { run_id, kind, task, item, attempt, data, at, .. } = events[0].clone();
    assert_eq!((run_id.as_str(), kind.as_str(), task.as_deref(), item, attempt, data.as_deref(), at), ("r", "task.log", Some("a"), Some(2), Some(1), Some("{\"x\":1}"), 5));
    assert!(store.events("nobody").unwrap().is_empty());
}

pub fn the_ledger_comes_newest_first_within_its_limit(backend: &mut impl Backend) {
    let store = backend.store();
    store.apply(&[credit("acme", 100, "k1", 1), charge("acme", "r", "a", 3, 5, 4), credit("other", 1, "k2", 9)]).unwrap();
    store.apply(&[charge("acme", "r", "b", -1, 2, 4), credit("acme", 7, "k3", 2)]).unwrap();
    let ledger = store.ledger("acme", 10).unwrap();
    let amounts: Vec<i64> = ledger.iter().map(|e| e.amount).collect();
    assert_eq!(amounts, [-2, -5, 7, 100], "newest first; at the same time, the later written first");
    assert_eq!(store.ledger("acme", 2).unwrap().len(), 2);
    let unit = &ledger[1];
    assert_eq!((unit.run_id.as_deref(), unit.task.as_deref(), unit.item, unit.attempt, unit.kind.as_str()), (Some("r"), Some("a"), Some(3), Some(1), "charge"));
    assert_eq!(ledger[0].item, None, "a task's own unit has no item");
    let given = &ledger[3];
    assert_eq!((given.key.as_str(), given.run_id.as_deref(), given.account.as_str(), given.at), ("credit/k1", None, "acme", 1));
    assert_eq!(store.balance("acme").unwrap(), Some(100));
}

pub fn apply_is_all_or_nothing(backend: &mut impl Backend) {
    backend.refuse_events_saying("refused");
    let store = backend.store();
    let batch = [
        started("r", "wf", 1),
        task("r", "a", "running", 1),
        Write::Var { run_id: "r".into(), name: "v".into(), value: "1".into() },
        Write::Snapshot { run_id: "r".into(), jseq: 1, state: "s".into() },
        credit("acme", 5, "k", 1),
        event("r", "kept?", 1),
        event("r", "refused", 1),
    ];
    assert!(store.apply(&batch).is_err(), "the backend refuses the batch");
    assert_eq!(store.get_run("r").unwrap(), None);
    assert!(store.tasks("r", 0).unwrap().is_empty());
    assert_eq!(store.snapshot("r").unwrap(), None);
    assert_eq!(store.balance("acme").unwrap(), None);
    assert!(!store.ledger_has("credit/k").unwrap());
    assert!(store.events("r").unwrap().is_empty());
    // the store still works: the same batch without the bad write lands whole
    store.apply(&batch[..6]).unwrap();
    assert!(store.get_run("r").unwrap().is_some());
    assert_eq!(store.events("r").unwrap().len(), 1);
}

fn version(name: &str, hash: &str, definition: &str, at: i64) -> Write {
    Write::Workflow { name: name.into(), hash: hash.into(), definition: definition.into(), at }
}

pub fn a_workflow_version_is_kept_once_per_name_and_hash(backend: &mut impl Backend) {
    let store = backend.store();
    store.apply(&[version("wf", "h1", "{\"v\":1}", 1), version("wf", "h1", "{\"v\":1}", 2)]).unwrap();
    // a later write of the same version (another load, another process) changes nothing
    store.apply(&[version("wf", "h1", "{\"other\":true}", 3)]).unwrap();
    store.apply(&[version("wf", "h2", "{\"v\":2}", 4), version("other", "h1", "{\"o\":1}", 4)]).unwrap();
    assert_eq!(store.workflow_definition("wf", "h1").unwrap().as_deref(), Some("{\"v\":1}"), "the first write of a version stays");
    assert_eq!(store.workflow_definition("wf", "h2").unwrap().as_deref(), Some("{\"v\":2}"), "a changed definition is a new version");
    assert_eq!(store.workflow_definition("other", "h1").unwrap().as_deref(), Some("{\"o\":1}"), "versions are per workflow name");
    assert_eq!(store.workflow_definition("wf", "h3").unwrap(), None);
}

pub fn a_run_carries_its_workflow_version(backend: &mut impl Backend) {
    let store = backend.store();
    let start = |hash: Option<&str>| Write::RunStarted {
        id: "r".into(),
        workflow: "wf".into(),
        workflow_hash: hash.map(str::to_owned),
        input: "{}".into(),
        started_at: 1,
        account: None,
    };
    store.apply(&[start(Some("h1"))]).unwrap();
    assert_eq!(store.get_run("r").unwrap().unwrap().workflow_hash.as_deref(), Some("h1"));
    assert_eq!(store.runs(&RunFilter::default()).unwrap()[0].workflow_hash.as_deref(), Some("h1"), "listed runs carry it too");
    // a resume that names no version keeps the run's; one that names another (an override) records it
    store.apply(&[start(None)]).unwrap();
    assert_eq!(store.get_run("r").unwrap().unwrap().workflow_hash.as_deref(), Some("h1"));
    store.apply(&[start(Some("h2"))]).unwrap();
    assert_eq!(store.get_run("r").unwrap().unwrap().workflow_hash.as_deref(), Some("h2"));
}
