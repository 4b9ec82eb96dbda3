//! The contract of idempotent start keys (`store/start_keys.rs`): a key's
//! claim answers one run, atomically across connections, and gives way
//! once that run failed, its retention passed or it never reached the store.

use std::collections::HashSet;

use arcflow_core::store::{open, StartKeyClaim, StartKeyRequest, ORPHAN_CLAIM_MS};

use super::{ended, started, Backend};

const DAY: i64 = 86_400_000;

fn claim<'a>(key: &'a str, run_id: &'a str, now_ms: i64) -> StartKeyRequest<'a> {
    StartKeyRequest { key, run_id, now_ms: Some(now_ms), retention_ms: DAY, superseded: None }
}

fn holder(answer: &StartKeyClaim) -> (&str, Option<&str>) {
    match answer {
        StartKeyClaim::Claimed => ("claimed", None),
        StartKeyClaim::Taken { run_id, run } => (run_id, run.as_ref().map(|r| r.status.as_str())),
    }
}

pub fn a_start_key_is_claimed_once_and_answers_its_run_until_it_fails(backend: &mut impl Backend) {
    let store = backend.store();
    let now = 1_000_000;
    assert_eq!(store.claim_start_key(&claim("k", "a", now)).unwrap(), StartKeyClaim::Claimed);
    // its run is not in the store yet: the holder's id, no record
    assert_eq!(holder(&store.claim_start_key(&claim("k", "b", now + 1)).unwrap()), ("a", None));
    store.apply(&[started("a", "wf", now)]).unwrap();
    assert_eq!(holder(&store.claim_start_key(&claim("k", "b", now + 2)).unwrap()), ("a", Some("running")));
    store.apply(&[ended("a", "succeeded", now + 3)]).unwrap();
    assert_eq!(holder(&store.claim_start_key(&claim("k", "b", now + 4)).unwrap()), ("a", Some("succeeded")));
    assert_eq!(store.claim_start_key(&claim("other", "o", now)).unwrap(), StartKeyClaim::Claimed, "keys are separate");
    // past the retention, a new run takes the key
    assert_eq!(store.claim_start_key(&claim("k", "c", now + DAY + 1)).unwrap(), StartKeyClaim::Claimed);
    // a run that failed gives the key up
    store.apply(&[started("c", "wf", now + DAY + 1), ended("c", "failed", now + DAY + 2)]).unwrap();
    assert_eq!(store.claim_start_key(&claim("k", "d", now + DAY + 3)).unwrap(), StartKeyClaim::Claimed);
}

pub fn a_start_key_gives_way_to_a_known_failure_an_orphan_and_a_release(backend: &mut impl Backend) {
    let store = backend.store();
    let now = 5_000_000;
    assert_eq!(store.claim_start_key(&claim("k", "a", now)).unwrap(), StartKeyClaim::Claimed);
    // the claimer knows `a` failed, though the store does not say so yet
    let knows = StartKeyRequest { superseded: Some("a"), ..claim("k", "b", now + 1) };
    assert_eq!(store.claim_start_key(&knows).unwrap(), StartKeyClaim::Claimed);
    let wrong = StartKeyRequest { superseded: Some("a"), ..claim("k", "c", now + 2) };
    assert_eq!(holder(&store.claim_start_key(&wrong).unwrap()), ("b", None), "only the run it names");
    // `b` never reached the store: given up once it is an orphan
    assert_eq!(holder(&store.claim_start_key(&claim("k", "c", now + ORPHAN_CLAIM_MS)).unwrap()), ("b", None));
    assert_eq!(store.claim_start_key(&claim("k", "c", now + ORPHAN_CLAIM_MS + 2)).unwrap(), StartKeyClaim::Claimed);
    // a release by another run does nothing; by the holder, frees the key
    store.release_start_key("k", "b").unwrap();
    assert_eq!(holder(&store.claim_start_key(&claim("k", "d", now + ORPHAN_CLAIM_MS + 3)).unwrap()), ("c", None));
    store.release_start_key("k", "c").unwrap();
    assert_eq!(store.claim_start_key(&claim("k", "d", now + ORPHAN_CLAIM_MS + 4)).unwrap(), StartKeyClaim::Claimed);
}

pub fn concurrent_claims_of_one_key_make_one_holder(backend: &mut impl Backend) {
    let url = backend.url();
    let now = 9_000_000;
    let answers: Vec<(String, StartKeyClaim)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let url = url.clone();
                s.spawn(move || {
                    let mut store = open(&url).unwrap();
                    (0..25)
                        .map(|i| {
                            let id = format!("t{t}-{i}");
                            let answer = store.claim_start_key(&claim("once", &id, now)).unwrap();
                            (id, answer)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(answers.len(), 100);
    let winners: Vec<&str> = answers.iter().filter(|(_, a)| *a == StartKeyClaim::Claimed).map(|(id, _)| id.as_str()).collect();
    assert_eq!(winners.len(), 1, "one claim won");
    let named: HashSet<&str> = answers.iter().filter_map(|(_, a)| match a {
        StartKeyClaim::Taken { run_id, .. } => Some(run_id.as_str()),
        StartKeyClaim::Claimed => None,
    }).collect();
    assert_eq!(named.into_iter().collect::<Vec<_>>(), winners, "every other claim named the winner");
}
