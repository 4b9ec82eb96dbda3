//! Credit leases on SQLite (see `store/credit.rs`): each call is one
//! `IMMEDIATE` transaction, so grants, returns, expiries and the flush
//! thread's charges of every process on the file take turns.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{db_error, SqliteStore};
use crate::error::Result;
use crate::store::credit::{grant_size, lease_kept_until, LeaseGrant, LeaseRequest};

use super::clock_ms as now_ms;

/// Returns the expired leases (of `account`, or of all accounts) to their balances.
fn expire(tx: &Transaction<'_>, now: i64, account: Option<&str>) -> Result<u64> {
    tx.execute(
        "UPDATE accounts SET balance = balance +
           (SELECT SUM(amount) FROM credit_leases l WHERE l.account = accounts.id AND l.lease_until < ?1)
         WHERE id IN (SELECT account FROM credit_leases WHERE lease_until < ?1 AND (?2 IS NULL OR account = ?2))",
        params![now, account],
    )
    .map_err(db_error)?;
    let gone = tx
        .execute("DELETE FROM credit_leases WHERE lease_until < ?1 AND (?2 IS NULL OR account = ?2)", params![now, account])
        .map_err(db_error)?;
    Ok(gone as u64)
}

/// The balance plus the leases of owners other than `owner`.
fn rest(tx: &Transaction<'_>, account: &str, owner: &str) -> Result<Option<i64>> {
    tx.query_row(
        "SELECT balance + COALESCE((SELECT SUM(amount) FROM credit_leases WHERE account = ?1 AND owner <> ?2), 0)
         FROM accounts WHERE id = ?1",
        params![account, owner],
        |r| r.get(0),
    )
    .optional()
    .map_err(db_error)
}

impl SqliteStore {
    pub(super) fn lease(&mut self, r: &LeaseRequest<'_>) -> Result<Option<LeaseGrant>> {
        let tx = self.immediate()?;
        let now = now_ms(&tx)?;
        expire(&tx, now, Some(r.account))?;
        let balance: Option<i64> = tx
            .query_row("SELECT balance FROM accounts WHERE id = ?1", [r.account], |row| row.get(0))
            .optional()
            .map_err(db_error)?;
        let Some(balance) = balance else { return Ok(None) };
        let granted = grant_size(balance.saturating_add(r.overdraft), r.need, r.want);
        if granted > 0 {
            tx.execute("UPDATE accounts SET balance = balance - ?2 WHERE id = ?1", params![r.account, granted]).map_err(db_error)?;
            tx.execute(
                "INSERT INTO credit_leases (account, owner, amount, lease_until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account, owner) DO UPDATE SET amount = amount + ?3, lease_until = ?4",
                params![r.account, r.owner, granted, lease_kept_until(now, r.lease_ms)],
            )
            .map_err(db_error)?;
        }
        let rest = rest(&tx, r.account, r.owner)?.unwrap_or(balance - granted);
        tx.commit().map_err(db_error)?;
        Ok(Some(LeaseGrant { granted, rest }))
    }

    pub(super) fn give_back(&mut self, account: &str, owner: &str, amount: Option<i64>) -> Result<()> {
        let tx = self.immediate()?;
        let held: Option<i64> = tx
            .query_row("SELECT amount FROM credit_leases WHERE account = ?1 AND owner = ?2", [account, owner], |r| r.get(0))
            .optional()
            .map_err(db_error)?;
        // a lease that expired meanwhile was returned by whoever expired it
        if let Some(held) = held {
            let back = amount.unwrap_or(held);
            tx.execute("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1", params![account, back]).map_err(db_error)?;
            match amount {
                None => tx.execute("DELETE FROM credit_leases WHERE account = ?1 AND owner = ?2", [account, owner]),
                Some(back) => tx.execute(
                    "UPDATE credit_leases SET amount = amount - ?3 WHERE account = ?1 AND owner = ?2",
                    params![account, owner, back],
                ),
            }
            .map_err(db_error)?;
        }
        tx.commit().map_err(db_error)
    }

    pub(super) fn renew(&mut self, owner: &str, lease_ms: i64) -> Result<Vec<(String, i64)>> {
        let tx = self.immediate()?;
        let now = now_ms(&tx)?;
        expire(&tx, now, None)?;
        tx.execute("UPDATE credit_leases SET lease_until = ?2 WHERE owner = ?1", params![owner, lease_kept_until(now, lease_ms)]).map_err(db_error)?;
        let held = {
            let mut stmt = tx.prepare_cached("SELECT account FROM credit_leases WHERE owner = ?1").map_err(db_error)?;
            let rows = stmt.query_map([owner], |r| r.get::<_, String>(0)).map_err(db_error)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_error)?
        };
        let mut answer = Vec::with_capacity(held.len());
        for account in held {
            if let Some(rest) = rest(&tx, &account, owner)? {
                answer.push((account, rest));
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(answer)
    }

    pub(super) fn expire_all(&mut self) -> Result<u64> {
        let tx = self.immediate()?;
        let now = now_ms(&tx)?;
        let gone = expire(&tx, now, None)?;
        tx.commit().map_err(db_error)?;
        Ok(gone)
    }

    pub(super) fn rest_of(&mut self, account: &str, owner: &str) -> Result<Option<i64>> {
        let tx = self.conn.transaction().map_err(db_error)?;
        let rest = rest(&tx, account, owner)?;
        tx.commit().map_err(db_error)?;
        Ok(rest)
    }
}
