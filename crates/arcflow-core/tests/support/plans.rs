//! The shared buffers (hit + read: the counts `EXPLAIN (ANALYZE, BUFFERS)`
//! shows) that the statements a store sends touch, as `pg_stat_statements`
//! counts them for the store's own calls, with its own parameters: a count
//! that does not depend on how fast or loaded the machine is.

#![allow(dead_code)]

/// The server settings these helpers need (see `Cluster::start_with`).
pub const SETTINGS: &str = "-c shared_preload_libraries=pg_stat_statements";

/// Makes `pg_stat_statements` readable on `client`'s database.
pub fn enable(client: &mut postgres::Client) {
    client.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").unwrap();
}

/// Forgets what was counted so far.
pub fn reset(client: &mut postgres::Client) {
    client.batch_execute("SELECT pg_stat_statements_reset()").unwrap();
}

/// The calls since the last [`reset`] of the one statement whose text
/// contains `marker`, and the shared buffers each touched on average
/// (executing: planning is not counted). Panics unless exactly one matches.
pub fn buffers_per_call(client: &mut postgres::Client, marker: &str) -> (i64, f64) {
    let rows = client
        .query(
            "SELECT calls, shared_blks_hit + shared_blks_read FROM pg_stat_statements
             WHERE strpos(query, $1) > 0 AND strpos(query, 'pg_stat_statements') = 0",
            &[&marker],
        )
        .unwrap();
    assert_eq!(rows.len(), 1, "one statement counted contains {marker:?}");
    let (calls, buffers): (i64, i64) = (rows[0].get(0), rows[0].get(1));
    (calls, buffers as f64 / calls as f64)
}
