//! PostgreSQL's start key claims beside the contract (`contract/start_keys.rs`):
//! one statement each, stamped by the database's clock, a bounded wait for
//! another session's lock (the session's own setting untouched), and
//! claims racing releases always answered.

mod support;

use std::collections::HashSet;

use arcflow_core::store::{PostgresStore, StartKeyClaim, StartKeyRequest, Store, CLAIM_LOCK_WAIT_MS};
use arcflow_core::Error;
use support::plans;
use support::postgres::Cluster;

const DAY: i64 = 86_400_000;

fn claim<'a>(key: &'a str, run_id: &'a str) -> StartKeyRequest<'a> {
    StartKeyRequest { key, run_id, now_ms: None, retention_ms: DAY, superseded: None }
}

fn db_now(client: &mut postgres::Client) -> i64 {
    client.query_one("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint", &[]).unwrap().get(0)
}

/// Every statement the server was sent (`pg_stat_statements` counts
/// `BEGIN`, `SET` and `COMMIT` too), on a cluster of its own.
#[test]
fn a_claim_is_one_statement_whether_it_takes_the_key_or_finds_it_taken() {
    let cluster = Cluster::start_with(plans::SETTINGS);
    let mut admin = cluster.client();
    plans::enable(&mut admin);
    let mut store = PostgresStore::open(&cluster.url("keys_count")).unwrap();
    assert_eq!(store.claim_start_key(&claim("warm", "w")).unwrap(), StartKeyClaim::Claimed); // prepared
    let sent = |admin: &mut postgres::Client| -> i64 {
        let row = admin.query_one("SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements WHERE strpos(query, 'pg_stat_statements') = 0", &[]).unwrap();
        row.get(0)
    };
    plans::reset(&mut admin);
    assert_eq!(store.claim_start_key(&claim("k", "a")).unwrap(), StartKeyClaim::Claimed);
    assert_eq!(sent(&mut admin), 1, "a claim that takes the key");
    plans::reset(&mut admin);
    assert!(matches!(store.claim_start_key(&claim("k", "b")).unwrap(), StartKeyClaim::Taken { .. }));
    assert_eq!(sent(&mut admin), 1, "a claim that finds it taken, with its holder");
}

#[test]
fn a_claim_is_stamped_by_the_databases_clock() {
    let cluster = support::postgres::cluster();
    let (url, schema) = cluster.fresh_url("keys_clock");
    let mut store = PostgresStore::open(&url).unwrap();
    let mut admin = cluster.client();
    let before = db_now(&mut admin);
    assert_eq!(store.claim_start_key(&claim("k", "a")).unwrap(), StartKeyClaim::Claimed);
    let after = db_now(&mut admin);
    let at: i64 = admin.query_one(&format!("SELECT claimed_at FROM \"{schema}\".start_keys WHERE key = 'k'"), &[]).unwrap().get(0);
    assert!(before <= at && at <= after, "claimed at {at}, not within the database's {before}..{after}");
    // a claim from a day ago by the database's clock no longer answers
    admin.execute(&format!("UPDATE \"{schema}\".start_keys SET claimed_at = claimed_at - {DAY} - 1"), &[]).unwrap();
    assert_eq!(store.claim_start_key(&claim("k", "b")).unwrap(), StartKeyClaim::Claimed);
    match store.claim_start_key(&claim("k", "c")).unwrap() {
        StartKeyClaim::Taken { run_id, run } => assert_eq!((run_id.as_str(), run), ("b", None)),
        StartKeyClaim::Claimed => panic!("`b` holds the key within its retention"),
    }
}

#[test]
fn a_claim_behind_another_sessions_lock_fails_transient_after_its_wait() {
    let cluster = support::postgres::cluster();
    let (url, schema) = cluster.fresh_url("keys_lock");
    let mut store = PostgresStore::open(&url).unwrap();
    assert_eq!(store.claim_start_key(&claim("k", "a")).unwrap(), StartKeyClaim::Claimed);
    let before = store.session_setting("lock_timeout").unwrap();
    let mut holder = cluster.client();
    let mut tx = holder.transaction().unwrap();
    tx.execute(&format!("SELECT 1 FROM \"{schema}\".start_keys WHERE key = 'k' FOR UPDATE"), &[]).unwrap();
    let err = store.claim_start_key(&claim("k", "b")).expect_err("the row is locked past the claim's wait");
    assert!(matches!(err, Error::Store { transient: true, .. }), "{err:?}");
    assert!(err.to_string().contains("55P03"), "lock_not_available after {CLAIM_LOCK_WAIT_MS} ms: {err}");
    tx.rollback().unwrap();
    // the wait was the claim's own: the session keeps its setting
    assert_eq!(store.session_setting("lock_timeout").unwrap(), before);
    match store.claim_start_key(&claim("k", "b")).unwrap() {
        StartKeyClaim::Taken { run_id, .. } => assert_eq!(run_id, "a"),
        StartKeyClaim::Claimed => panic!("`a` holds the key"),
    }
}

/// The holder is the claim's own row (`RETURNING`), not a second read that
/// a release committed in between could find empty.
#[test]
fn claims_racing_releases_always_answer_a_holder() {
    let url = support::postgres::cluster().fresh_url("keys_race").0;
    PostgresStore::open(&url).unwrap();
    let answers: Vec<(String, StartKeyClaim)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let url = url.clone();
                s.spawn(move || {
                    let mut store = PostgresStore::open(&url).unwrap();
                    let mut answers = Vec::new();
                    for i in 0..150 {
                        let id = format!("t{t}-{i}");
                        let answer = store.claim_start_key(&claim("k", &id)).unwrap_or_else(|e| panic!("claim {id}: {e}"));
                        if answer == StartKeyClaim::Claimed {
                            store.release_start_key("k", &id).unwrap();
                        }
                        answers.push((id, answer));
                    }
                    answers
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    let ids: HashSet<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
    let claimed = answers.iter().filter(|(_, a)| *a == StartKeyClaim::Claimed).count();
    assert!(claimed > 0, "some claim found the key free");
    for (id, answer) in &answers {
        if let StartKeyClaim::Taken { run_id, .. } = answer {
            assert!(run_id != id && ids.contains(run_id.as_str()), "{id} was answered {run_id}");
        }
    }
}
