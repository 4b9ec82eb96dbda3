//! Wake-ups across processes: PostgreSQL's `LISTEN arcflow`, on a
//! connection of its own, opened again by itself when it is lost. The
//! payloads are small JSON objects sent in the transaction that made the
//! change: `{"q":[queues]}` (enqueued), `{"e":[run ids]}` or `{"e":"*"}`
//! (runs ended), `{"c":[run ids]}` (cancel asked), `{"w":[run ids]}` (a
//! batch of writes of runs a worker holds committed: event streams read the
//! journal again), `{"g":[run ids]}` (a signal was stored for these runs:
//! the worker holding one takes it), each with `"s"`, the
//! schema that changed: processes on other schemas of the same database
//! hear it too (the channel is per database) and ignore it. SQLite has none: a
//! worker on SQLite polls across processes.

use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use serde::Deserialize;

use super::Notice;
use crate::error::{Error, Result};

/// The notification channel every arcflow process uses.
pub(crate) const CHANNEL: &str = "arcflow";

/// Payloads past this many bytes say `"*"` instead of naming runs
/// (PostgreSQL refuses a payload of 8,000 bytes or more).
pub(crate) const PAYLOAD_LIMIT: usize = 7_000;

/// One connection listening on [`CHANNEL`].
pub struct Listener {
    config: postgres::Config,
    /// The schema whose notices count (the payload's `s`): the URL's, else
    /// the connection's `current_schema()`.
    schema: Option<String>,
    /// Shown instead of the URL in errors (it may hold a password).
    scrub: Box<dyn Fn(String) -> String + Send>,
    client: Option<Client>,
    /// The connection was opened again: the next call answers [`Notice::Missed`].
    missed: bool,
}

/// A listener for the store `url` names: `None` for SQLite (no
/// notifications), else a connection that has run `LISTEN arcflow`.
///
/// ```no_run
/// if let Some(mut listener) = arcflow_core::queue::listen("postgres://db/arcflow")? {
///     let notice = listener.next(std::time::Duration::from_secs(5))?;
/// }
/// # Ok::<(), arcflow_core::Error>(())
/// ```
pub fn listen(url: &str) -> Result<Option<Listener>> {
    if url.starts_with("sqlite:") {
        return Ok(None);
    }
    let (config, schema, scrub) = crate::store::postgres_config(url)?;
    let mut listener = Listener { config, schema, scrub, client: None, missed: false };
    listener.connect()?;
    listener.missed = false;
    Ok(Some(listener))
}

impl Listener {
    fn connect(&mut self) -> Result<()> {
        let mut client = self.config.connect(NoTls).map_err(|e| self.error(e))?;
        // a search_path option does not matter here: the channel is per database
        client.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| self.error(e))?;
        if self.schema.is_none() {
            let row = client.query_one("SELECT current_schema()::text", &[]).map_err(|e| self.error(e))?;
            self.schema = row.get(0);
        }
        self.client = Some(client);
        self.missed = true;
        Ok(())
    }

    fn error(&self, e: postgres::Error) -> Error {
        let transient = e.as_db_error().is_none();
        Error::Store { message: (self.scrub)(format!("listening for notifications: {e}")), transient }
    }

    /// The next notice, waiting at most `timeout` (`None`: none came). A
    /// lost connection is opened again (and `LISTEN` said again) by the
    /// next call, which then answers [`Notice::Missed`]; until the database
    /// answers, calls fail with a transient `Store` error.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<Notice>> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.connect()?;
        }
        if std::mem::take(&mut self.missed) {
            return Ok(Some(Notice::Missed));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let client = self.client.as_mut().expect("connected above");
            let next = client.notifications().timeout_iter(left).next();
            match next {
                Ok(None) => return Ok(None),
                Ok(Some(n)) if n.channel() == CHANNEL => match parse(n.payload()) {
                    Some((schema, notice)) if schema == self.schema => return Ok(Some(notice)),
                    // another schema's, or not one of ours (someone else's NOTIFY arcflow): wait on
                    _ if left.is_zero() => return Ok(None),
                    _ => continue,
                },
                Ok(Some(_)) => continue,
                Err(e) => {
                    self.client = None;
                    return Err(self.error(e));
                }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Ids {
    All(String),
    Some(Vec<String>),
}

#[derive(Deserialize)]
struct Payload {
    /// The schema of the change.
    s: Option<String>,
    q: Option<Vec<String>>,
    e: Option<Ids>,
    c: Option<Vec<String>>,
    w: Option<Ids>,
    g: Option<Ids>,
}

impl Ids {
    /// `None`: "all" (too many to name); an unknown word is not ours.
    fn named(self) -> Option<Option<Vec<String>>> {
        match self {
            Ids::Some(ids) => Some(Some(ids)),
            Ids::All(all) if all == "*" => Some(None),
            Ids::All(_) => None,
        }
    }
}

/// A payload as its schema and notice (`None`: not one arcflow sends).
pub(crate) fn parse(payload: &str) -> Option<(Option<String>, Notice)> {
    let p: Payload = serde_json::from_str(payload).ok()?;
    let notice = match (p.q, p.e, p.c, p.w, p.g) {
        (Some(q), None, None, None, None) => Notice::Enqueued(q),
        (None, Some(e), None, None, None) => Notice::Ended(e.named()?),
        (None, None, Some(c), None, None) => Notice::Cancel(c),
        (None, None, None, Some(w), None) => Notice::Written(w.named()?),
        (None, None, None, None, Some(g)) => Notice::Signalled(g.named()?),
        _ => return None,
    };
    Some((p.s, notice))
}

/// The payload saying these runs ended: named while short enough, else `"*"`.
pub(crate) fn ended_payload(ids: &[&str]) -> String {
    ids_payload("e", ids)
}

/// The payload `{key: ids}`: named while short enough, else `{key: "*"}`.
pub(crate) fn ids_payload(key: &str, ids: &[&str]) -> String {
    let text = serde_json::json!({ key: ids }).to_string();
    if text.len() > PAYLOAD_LIMIT { serde_json::json!({ key: "*" }).to_string() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_read_back_as_notices() {
        let public = Some("public".to_owned());
        assert_eq!(parse(r#"{"q":["a","b"],"s":"public"}"#), Some((public.clone(), Notice::Enqueued(vec!["a".into(), "b".into()]))));
        assert_eq!(parse(r#"{"e":["r1"],"s":"public"}"#), Some((public.clone(), Notice::Ended(Some(vec!["r1".into()])))));
        assert_eq!(parse(r#"{"e":"*","s":"t1"}"#), Some((Some("t1".into()), Notice::Ended(None))));
        assert_eq!(parse(r#"{"c":["r2"]}"#), Some((None, Notice::Cancel(vec!["r2".into()]))));
        assert_eq!(parse(r#"{"w":["r3"],"s":"public"}"#), Some((public.clone(), Notice::Written(Some(vec!["r3".into()])))));
        assert_eq!(parse(r#"{"g":"*","s":"public"}"#), Some((public.clone(), Notice::Signalled(None))));
        assert_eq!(parse(r#"{"w":["r3"],"g":["r3"]}"#), None);
        assert_eq!(parse("hello"), None);
        assert_eq!(parse(r#"{"e":"x"}"#), None);
    }

    #[test]
    fn too_many_ended_runs_are_not_named() {
        let ids: Vec<String> = (0..2_000).map(|i| format!("run-{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(ended_payload(&refs), r#"{"e":"*"}"#);
        assert_eq!(ended_payload(&refs[..3]), r#"{"e":["run-0","run-1","run-2"]}"#);
    }
}
