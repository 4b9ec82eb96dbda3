//! arcflow's PostgreSQL sessions end a transaction a frozen process left
//! open (`idle_in_transaction_session_timeout`) and a statement that hangs
//! (`statement_timeout`), on a reconnection too; the URL's own `options`
//! override them.

mod support;

use arcflow_core::store::{PostgresStore, IDLE_IN_TRANSACTION_TIMEOUT, STATEMENT_TIMEOUT};

fn ms(setting: &str) -> u128 {
    // SHOW answers units: `10s`, `1min`, `500ms`
    let (digits, unit): (String, String) = (setting.chars().filter(char::is_ascii_digit).collect(), setting.chars().filter(|c| c.is_alphabetic()).collect());
    let n: u128 = digits.parse().unwrap_or_else(|_| panic!("not a duration: {setting}"));
    n * match unit.as_str() {
        "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        other => panic!("unit {other} of {setting}"),
    }
}

#[test]
fn the_store_sessions_carry_the_timeouts() {
    let cluster = support::postgres::cluster();
    let (url, schema) = cluster.fresh_url("timeouts");
    // a name of its own: the session this test ends is its store's, no other test's
    let url = format!("{url}&application_name={schema}");
    let mut store = PostgresStore::open(&url).unwrap();
    assert_eq!(ms(&store.session_setting("idle_in_transaction_session_timeout").unwrap()), IDLE_IN_TRANSACTION_TIMEOUT.as_millis());
    assert_eq!(ms(&store.session_setting("statement_timeout").unwrap()), STATEMENT_TIMEOUT.as_millis());
    assert!(IDLE_IN_TRANSACTION_TIMEOUT.as_millis() > 0 && STATEMENT_TIMEOUT.as_millis() > 0);

    // the server ends the session: the store's next call opens another, with the same settings
    let mut admin = cluster.client();
    let ended = admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&schema])
        .unwrap();
    assert!(ended >= 1, "no arcflow session to end");
    let again = (0..20).find_map(|_| store.session_setting("idle_in_transaction_session_timeout").ok()).expect("the store reconnects");
    assert_eq!(ms(&again), IDLE_IN_TRANSACTION_TIMEOUT.as_millis());
}

#[test]
fn the_urls_options_win() {
    let cluster = support::postgres::cluster();
    let (url, _) = cluster.fresh_url("timeouts_given");
    let url = format!("{url}&options=-c%20statement_timeout%3D1234");
    let mut store = PostgresStore::open(&url).unwrap();
    assert_eq!(ms(&store.session_setting("statement_timeout").unwrap()), 1234);
    assert_eq!(ms(&store.session_setting("idle_in_transaction_session_timeout").unwrap()), IDLE_IN_TRANSACTION_TIMEOUT.as_millis());
    // the schema's search_path still applies beside the URL's options
    assert!(store.session_setting("search_path").unwrap().contains("timeouts_given"));
}
