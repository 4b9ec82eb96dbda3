//! The PostgreSQL store, for several processes or machines on one database:
//! `postgres://` or `postgresql://` URLs, `?schema=NAME` for a schema of
//! its own. One connection per store, through the synchronous `postgres`
//! client (tokio-postgres on a small runtime the client owns, so on the
//! thread that uses the store: the flush thread for the writer). A lost
//! connection is opened again by the next call; until then calls fail with
//! a transient error, which the write-behind queue retries.
//!
//! - `schema.rs`: the tables, migrated at open under an advisory lock;
//! - `apply.rs`: a batch in one transaction, a few multi-row statements;
//! - `read.rs`: the reads;
//! - `credit.rs`: credit leases (`meter::lease`);
//! - `url.rs`: the URL, and the password kept out of every message.

mod apply;
mod credit;
mod fence;
mod links;
mod queue;
mod read;
mod schema;
mod start_keys;
mod url;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, GenericClient, NoTls, Statement};

use super::credit::{LeaseGrant, LeaseRequest};
use super::record::{EventRecord, Execution, Fence, LedgerEntry, RunFilter, RunRecord, Write};
use super::start_keys::{StartKeyClaim, StartKeyRequest};
use super::Store;
use crate::error::{Error, Result};
use url::Target;

/// How long opening a connection may take when the URL does not say
/// (`connect_timeout`): a database that does not answer is a transient error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `idle_in_transaction_session_timeout` of arcflow's connections: its
/// transactions never wait on the client, so only a frozen process idles
/// this long in one (and its runs' leases are long expired by then).
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(10);
/// `statement_timeout`: far past any batch or claim, short of hanging forever.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

pub struct PostgresStore {
    target: Target,
    config: postgres::Config,
    /// `None` once the connection is lost: the next call opens another.
    client: Option<Client>,
    statements: Statements,
    /// `set_lock_wait`'s, set again on each new connection.
    lock_wait: Option<Duration>,
}

impl PostgresStore {
    /// Connects to the database `url` names and migrates its schema
    /// (created if `?schema=NAME` names one that is missing).
    pub fn open(url: &str) -> Result<Self> {
        let target = url::parse(url)?;
        let config = client_config(&target)?;
        let mut store = PostgresStore { target, config, client: None, statements: Statements::default(), lock_wait: None };
        let target = store.target.clone();
        schema::migrate(store.connected()?, &target)?;
        Ok(store)
    }

    /// The connection, opened again if it was lost.
    fn connected(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let mut client = self.config.connect(NoTls).map_err(|e| db_error(&self.target, e))?;
            if let Some(wait) = self.lock_wait {
                client.batch_execute(&lock_timeout(wait)).map_err(|e| db_error(&self.target, e))?;
            }
            // prepared statements belong to the connection that prepared them
            self.statements = Statements::default();
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// A setting of this store's session (`SHOW name`), for diagnostics.
    pub fn session_setting(&mut self, name: &str) -> Result<String> {
        self.with(|client, _| Ok(client.query_one("SELECT current_setting($1)", &[&name])?.get(0)))
    }

    /// Runs `f` on the connection, its errors made `Store` errors.
    fn with<T>(&mut self, f: impl FnOnce(&mut Client, &mut Statements) -> std::result::Result<T, postgres::Error>) -> Result<T> {
        self.connected()?;
        let PostgresStore { client, statements, target, .. } = self;
        f(client.as_mut().expect("connected above"), statements).map_err(|e| db_error(target, e))
    }
}

/// The client's settings for `target`: its URL, a connect timeout and an
/// application name unless it says otherwise, and the schema's `search_path`.
fn client_config(target: &Target) -> Result<postgres::Config> {
    let mut config = postgres::Config::from_str(&target.client_url).map_err(|e| Error::Store {
        // the URL is not repeated: it may hold a password
        message: target.scrub(format!("invalid PostgreSQL URL: {}", describe(&e))),
        transient: false,
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("arcflow");
    }
    // every connection, a new one after a lost one included: a process frozen
    // (SIGSTOP, a debugger, a VM pause) inside a transaction holds its rows'
    // locks, which would block their takeover forever; the server ends such
    // a session instead. The URL's own `options` come after, so they win.
    let mut options = format!(
        "-c idle_in_transaction_session_timeout={} -c statement_timeout={}",
        IDLE_IN_TRANSACTION_TIMEOUT.as_millis(),
        STATEMENT_TIMEOUT.as_millis()
    );
    if let Some(given) = config.get_options().filter(|g| !g.is_empty()) {
        options = format!("{options} {given}");
    }
    if let Some(name) = &target.schema {
        options = format!("{options} -c search_path=\"{name}\"");
    }
    config.options(&options);
    Ok(config)
}

/// What a listener connects with (see `queue::listen`), the schema it
/// listens for (`None`: the connection's default), and how its messages
/// are kept clear of the URL's password.
pub(crate) fn listen_config(url: &str) -> Result<ListenConfig> {
    let target = url::parse(url)?;
    let config = client_config(&target)?;
    let schema = target.schema.clone();
    Ok((config, schema, Box::new(move |text| target.scrub(text))))
}

pub(crate) type ListenConfig = (postgres::Config, Option<String>, Box<dyn Fn(String) -> String + Send>);

/// `SET lock_timeout`: zero fails at once (PostgreSQL's own zero would wait forever).
fn lock_timeout(wait: Duration) -> String {
    format!("SET lock_timeout = '{}ms'", wait.as_millis().clamp(1, i32::MAX as u128))
}

/// Statements prepared once per connection, by their text.
#[derive(Default)]
struct Statements {
    prepared: HashMap<&'static str, Statement>,
    /// Statements prepared by name with SQL `PREPARE`, for `EXECUTE` inside a simple query.
    named: std::collections::HashSet<&'static str>,
}

impl Statements {
    fn get(&mut self, client: &mut impl GenericClient, sql: &'static str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql)?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// A client error as a `Store` error, the URL's password scrubbed.
fn db_error(target: &Target, e: postgres::Error) -> Error {
    Error::Store { message: target.scrub(describe(&e)), transient: is_transient(&e) }
}

/// The error and its causes, or the server's own report (severity, code,
/// message, detail).
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("PostgreSQL {} {}: {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Worth retrying once the fault clears: the connection (lost, refused,
/// timed out), a server shutting down or starting, too many connections,
/// a full disk or memory, a serialization failure or deadlock, a lock
/// not granted in time. Constraints, syntax, undefined tables and the like
/// are permanent.
fn is_transient(e: &postgres::Error) -> bool {
    let Some(code) = e.code() else {
        // no server report: the connection failed (I/O, closed, timed out);
        // else a value that cannot be converted, which no retry fixes
        return e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    };
    let transient = [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::DISK_FULL,
        SqlState::OUT_OF_MEMORY,
        SqlState::INSUFFICIENT_RESOURCES,
        SqlState::CONFIGURATION_LIMIT_EXCEEDED,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::QUERY_CANCELED,
        SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::IO_ERROR,
        SqlState::SYSTEM_ERROR,
    ];
    // class 08: connection exceptions
    code.code().starts_with("08") || transient.contains(code)
}

/// A batch in one transaction: with `fences`, each fenced run's row checked
/// first and every write of a run another worker holds dropped (answered);
/// `fresh` as `Store::apply_fresh` says.
fn write_batch(client: &mut Client, statements: &mut Statements, batch: &[Write], fences: &[Fence], fresh: &[bool]) -> std::result::Result<Vec<String>, postgres::Error> {
    let mut tx = client.transaction()?;
    let flagged = batch.iter().enumerate().map(|(i, w)| (w, fresh.get(i).copied().unwrap_or(false)));
    if fences.is_empty() {
        apply::apply(&mut tx, statements, flagged)?;
        tx.commit()?;
        return Ok(Vec::new());
    }
    // the rows locked: a takeover waits for this commit (or skips the run)
    let lost = fence::fenced_out(&mut tx, statements, fences)?;
    apply::apply(&mut tx, statements, flagged.filter(|(w, _)| w.run_id().is_none_or(|run| !lost.iter().any(|l| l == run))))?;
    // runs held by workers: whoever streams their events elsewhere reads the journal again
    // (only fenced batches pay for this notice, so runs started in process cost nothing more)
    let fenced: std::collections::HashSet<&str> = fences.iter().map(|f| f.run_id.as_str()).filter(|r| !lost.iter().any(|l| l == r)).collect();
    let mut seen = std::collections::HashSet::new();
    let written: Vec<&str> = batch.iter().filter_map(Write::run_id).filter(|r| fenced.contains(r) && seen.insert(*r)).collect();
    if !written.is_empty() {
        apply::notify(&mut tx, statements, &crate::queue::ids_payload("w", &written))?;
    }
    tx.commit()?;
    Ok(lost)
}

impl Store for PostgresStore {
    fn apply(&mut self, batch: &[Write]) -> Result<()> {
        self.with(|client, statements| write_batch(client, statements, batch, &[], &[])).map(drop)
    }

    fn apply_fenced(&mut self, batch: &[Write], fences: &[Fence]) -> Result<Vec<String>> {
        self.with(|client, statements| write_batch(client, statements, batch, fences, &[]))
    }

    /// The fresh executions go in as plain inserts, cheaper than upserts
    /// (no conflict check before the insert, no speculative insertion: about
    /// a third of an execution row's cost). One already there (the batch was
    /// applied before, its commit's answer lost) fails the transaction, which
    /// then runs again with every execution upserted.
    fn apply_fresh(&mut self, batch: &[Write], fences: &[Fence], fresh: &[bool]) -> Result<Vec<String>> {
        self.with(|client, statements| match write_batch(client, statements, batch, fences, fresh) {
            Err(e) if apply::written_before(&e) => write_batch(client, statements, batch, fences, &[]),
            answer => answer,
        })
    }

    fn get_run(&mut self, id: &str) -> Result<Option<RunRecord>> {
        self.with(|c, s| read::get_run(c, s, id))
    }

    fn run_by_start_key(&mut self, key: &str) -> Result<Option<RunRecord>> {
        self.with(|c, s| links::run_by_start_key(c, s, key))
    }

    fn claim_start_key(&mut self, request: &StartKeyRequest<'_>) -> Result<StartKeyClaim> {
        self.with(|c, s| start_keys::claim(c, s, request))?.ok_or_else(|| Error::Store {
            message: format!("the claim of start key {:?} answered no row", request.key),
            transient: true,
        })
    }

    fn release_start_key(&mut self, key: &str, run_id: &str) -> Result<()> {
        self.with(|c, s| start_keys::release(c, s, key, run_id))
    }

    fn cache_get(&mut self, workflow: &str, task: &str, key: &str) -> Result<Option<(String, i64)>> {
        self.with(|c, s| links::cache_get(c, s, workflow, task, key))
    }

    fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunRecord>> {
        self.with(|c, s| read::runs(c, s, filter))
    }

    fn tasks(&mut self, run_id: &str, after: u64) -> Result<Vec<Execution>> {
        self.with(|c, s| read::tasks(c, s, run_id, after))
    }

    fn activation(&mut self, run_id: &str, task: &str, step: u32) -> Result<Vec<Execution>> {
        self.with(|c, s| read::activation(c, s, run_id, task, step))
    }

    fn snapshot(&mut self, run_id: &str) -> Result<Option<(u64, String)>> {
        self.with(|c, s| read::snapshot(c, s, run_id))
    }

    fn balance(&mut self, account: &str) -> Result<Option<i64>> {
        self.with(|c, s| read::balance(c, s, account))
    }

    fn ledger_has(&mut self, key: &str) -> Result<bool> {
        self.with(|c, s| read::ledger_has(c, s, key))
    }

    fn events(&mut self, run_id: &str) -> Result<Vec<EventRecord>> {
        self.with(|c, s| read::events(c, s, run_id))
    }

    fn ledger(&mut self, account: &str, limit: u32) -> Result<Vec<LedgerEntry>> {
        self.with(|c, s| read::ledger(c, s, account, limit))
    }

    fn workflow_definition(&mut self, name: &str, hash: &str) -> Result<Option<String>> {
        self.with(|c, s| read::workflow_definition(c, s, name, hash))
    }

    fn lease_credit(&mut self, request: &LeaseRequest<'_>) -> Result<Option<LeaseGrant>> {
        self.with(|c, s| credit::lease(c, s, request))
    }

    fn return_credit(&mut self, account: &str, owner: &str, amount: Option<i64>) -> Result<()> {
        self.with(|c, s| credit::give_back(c, s, account, owner, amount))
    }

    fn renew_credit_leases(&mut self, owner: &str, lease_ms: i64) -> Result<Vec<(String, i64)>> {
        self.with(|c, s| credit::renew(c, s, owner, lease_ms))
    }

    fn expire_credit_leases(&mut self) -> Result<u64> {
        self.with(credit::expire_all)
    }

    fn credit_rest(&mut self, account: &str, owner: &str) -> Result<Option<i64>> {
        self.with(|c, s| credit::rest_of(c, s, account, owner))
    }

    /// `lock_timeout`: under MVCC a read never waits for a writer's row
    /// locks, only for a schema change's (a migration) lock.
    fn set_lock_wait(&mut self, wait: Duration) -> Result<()> {
        self.lock_wait = Some(wait);
        self.with(|client, _| client.batch_execute(&lock_timeout(wait)))
    }
}
