//! The contract of what issue 14 keeps beside a run (`store/links.rs`):
//! parent links, start keys, the result cache and the `waiting` status.

use arcflow_core::flow::{queued_signals, SIGNAL_RECEIVED, SIGNAL_TAKEN};
use arcflow_core::store::{EventRecord, RunFilter, Write};

use super::{ended, started, Backend};

fn links(id: &str, parent: Option<(&str, &str)>, key: Option<&str>) -> Write {
    Write::RunLinks {
        id: id.into(),
        parent_id: parent.map(|p| p.0.into()),
        parent_task: parent.map(|p| p.1.into()),
        start_key: key.map(Into::into),
    }
}

const HOUR: i64 = 3_600_000;

fn put(task: &str, key: &str, value: &str, ttl_ms: i64) -> Write {
    Write::CachePut {
        workflow: "wf".into(),
        task: task.into(),
        key: key.into(),
        value: value.into(),
        ttl_ms,
    }
}

pub fn a_child_run_reads_back_linked_to_its_parent(backend: &mut impl Backend) {
    let store = backend.store();
    store
        .apply(&[
            started("parent", "wf", 1),
            started("child", "sub", 2),
            links("child", Some(("parent", "each")), None),
        ])
        .unwrap();
    let child = store.get_run("child").unwrap().unwrap();
    assert_eq!(
        (child.parent_id.as_deref(), child.parent_task.as_deref()),
        (Some("parent"), Some("each"))
    );
    let parent = store.get_run("parent").unwrap().unwrap();
    assert_eq!((parent.parent_id, parent.parent_task), (None, None));
    // a resume of the child (its start written again) keeps its link
    store.apply(&[started("child", "sub", 9)]).unwrap();
    assert_eq!(
        store
            .get_run("child")
            .unwrap()
            .unwrap()
            .parent_id
            .as_deref(),
        Some("parent")
    );
}

pub fn a_start_key_finds_the_newest_run_it_started(backend: &mut impl Backend) {
    let store = backend.store();
    assert_eq!(store.run_by_start_key("k").unwrap(), None);
    store
        .apply(&[
            started("first", "wf", 1),
            links("first", None, Some("k")),
            ended("first", "failed", 2),
        ])
        .unwrap();
    store
        .apply(&[
            started("second", "wf", 3),
            links("second", None, Some("k")),
            started("other", "wf", 4),
            links("other", None, Some("j")),
        ])
        .unwrap();
    let found = store.run_by_start_key("k").unwrap().unwrap();
    assert_eq!(
        (found.id.as_str(), found.status.as_str()),
        ("second", "running")
    );
    assert_eq!(store.run_by_start_key("j").unwrap().unwrap().id, "other");
}

/// An entry's time is the store's clock (the database's on PostgreSQL): an
/// hour left is an hour at most, one stored with no time left is expired.
pub fn a_cached_result_is_read_until_it_expires_and_a_put_replaces_it(backend: &mut impl Backend) {
    let store = backend.store();
    store
        .apply(&[
            put("t", "\"a\"", "1", HOUR),
            put("t", "\"b\"", "2", 0),
            put("u", "\"a\"", "3", HOUR),
        ])
        .unwrap();
    let left = |answer: Option<(String, i64)>| answer.map(|(value, ms)| (value, 0 < ms && ms <= HOUR));
    assert_eq!(left(store.cache_get("wf", "t", "\"a\"").unwrap()), Some(("1".into(), true)), "an hour left at most");
    assert_eq!(store.cache_get("wf", "t", "\"b\"").unwrap(), None, "expired as it was stored");
    assert_eq!(store.cache_get("other", "t", "\"a\"").unwrap(), None, "keyed by workflow too");
    store.apply(&[put("t", "\"a\"", "10", HOUR), put("t", "\"b\"", "20", HOUR)]).unwrap();
    assert_eq!(left(store.cache_get("wf", "t", "\"a\"").unwrap()), Some(("10".into(), true)));
    assert_eq!(left(store.cache_get("wf", "t", "\"b\"").unwrap()), Some(("20".into(), true)), "stored again, with time");
    store.apply(&[put("u", "\"a\"", "30", -1)]).unwrap();
    assert_eq!(store.cache_get("wf", "u", "\"a\"").unwrap(), None, "replaced by an expired one");
}

pub fn a_cache_clear_drops_what_it_names(backend: &mut impl Backend) {
    let store = backend.store();
    let other = Write::CachePut {
        workflow: "other".into(),
        task: "t".into(),
        key: "1".into(),
        value: "0".into(),
        ttl_ms: HOUR,
    };
    store
        .apply(&[
            put("t", "1", "1", HOUR),
            put("u", "1", "2", HOUR),
            other.clone(),
        ])
        .unwrap();
    store
        .apply(&[Write::CacheClear {
            workflow: Some("wf".into()),
            task: Some("t".into()),
        }])
        .unwrap();
    assert_eq!(store.cache_get("wf", "t", "1").unwrap(), None);
    assert!(
        store.cache_get("wf", "u", "1").unwrap().is_some(),
        "another task of the workflow stays"
    );
    store
        .apply(&[Write::CacheClear {
            workflow: Some("wf".into()),
            task: None,
        }])
        .unwrap();
    assert_eq!(store.cache_get("wf", "u", "1").unwrap(), None);
    assert!(
        store.cache_get("other", "t", "1").unwrap().is_some(),
        "another workflow stays"
    );
    store
        .apply(&[Write::CacheClear {
            workflow: None,
            task: None,
        }])
        .unwrap();
    assert_eq!(store.cache_get("other", "t", "1").unwrap(), None);
}

pub fn a_parked_run_reads_waiting_until_it_runs_on_or_ends(backend: &mut impl Backend) {
    let store = backend.store();
    let waiting = |id: &str, since: Option<i64>| Write::RunWaiting {
        id: id.into(),
        since,
    };
    store
        .apply(&[
            started("w", "wf", 1),
            started("r", "wf", 2),
            waiting("w", Some(5)),
        ])
        .unwrap();
    let status = |store: &mut dyn arcflow_core::store::Store, id: &str| {
        store.get_run(id).unwrap().unwrap().status
    };
    assert_eq!(status(store, "w"), "waiting");
    let ids = |store: &mut dyn arcflow_core::store::Store, s: &str| {
        store
            .runs(&RunFilter {
                status: Some(s.into()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(store, "waiting"), ["w"]);
    assert_eq!(ids(store, "running"), ["r"]);
    store.apply(&[waiting("w", None)]).unwrap();
    assert_eq!(status(store, "w"), "running");
    // a resume (the start written again) is running until it parks again
    store
        .apply(&[waiting("w", Some(6)), started("w", "wf", 1)])
        .unwrap();
    assert_eq!(status(store, "w"), "running");
    // an ended run is never made waiting by a late write
    store
        .apply(&[ended("r", "succeeded", 7), waiting("r", Some(8))])
        .unwrap();
    assert_eq!(status(store, "r"), "succeeded");
    assert!(ids(store, "waiting").is_empty());
}

pub fn signals_received_and_not_taken_come_back_in_order(backend: &mut impl Backend) {
    let store = backend.store();
    let event = |kind: &str, name: &str, data: Option<&str>, at: i64| {
        Write::Event(EventRecord {
            run_id: "r".into(),
            kind: kind.into(),
            task: None,
            item: None,
            attempt: None,
            message: name.into(),
            data: data.map(Into::into),
            at,
        })
    };
    store
        .apply(&[
            started("r", "wf", 1),
            event(SIGNAL_RECEIVED, "a", Some("1"), 2),
            event(SIGNAL_RECEIVED, "b", Some("2"), 3),
            event(SIGNAL_RECEIVED, "a", Some("3"), 4),
            event(SIGNAL_TAKEN, "a", None, 5),
            event(SIGNAL_RECEIVED, "a", None, 6),
        ])
        .unwrap();
    let queued = queued_signals(&store.events("r").unwrap());
    // the oldest `a` was taken; a signal without payload is null
    assert_eq!(
        queued,
        [
            ("b".to_owned(), "2".to_owned()),
            ("a".into(), "3".into()),
            ("a".into(), "null".into())
        ]
    );
}
