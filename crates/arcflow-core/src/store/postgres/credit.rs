//! Credit leases on PostgreSQL (see `store/credit.rs`): each call is one
//! transaction; a grant locks the account's row first (`FOR UPDATE`), so
//! the grants of every worker on an account take turns and none can take
//! the balance past the overdraft. Expiry is by the database's clock.

use postgres::{Client, Transaction};

use super::Statements;
use crate::store::credit::{grant_size, lease_kept_until, LeaseGrant, LeaseRequest};

type Pg<T> = std::result::Result<T, postgres::Error>;

const NOW_MS: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Expired leases (of account `$2`, or of all when NULL) back to their balances.
const EXPIRE: &str = "
WITH gone AS (
  DELETE FROM credit_leases WHERE lease_until < $1 AND ($2::text IS NULL OR account = $2) RETURNING account, amount
), moved AS (
  UPDATE accounts a SET balance = a.balance + g.amount
  FROM (SELECT account, sum(amount)::bigint AS amount FROM gone GROUP BY account) g
  WHERE a.id = g.account RETURNING 1
)
SELECT count(*) FROM gone";

const REST: &str = "
SELECT balance + COALESCE((SELECT sum(amount)::bigint FROM credit_leases WHERE account = $1 AND owner <> $2), 0)
FROM accounts WHERE id = $1";

fn now(tx: &mut Transaction<'_>, s: &mut Statements) -> Pg<i64> {
    let statement = s.get(tx, NOW_MS)?;
    Ok(tx.query_one(&statement, &[])?.get(0))
}

fn expire(tx: &mut Transaction<'_>, s: &mut Statements, now: i64, account: Option<&str>) -> Pg<u64> {
    let statement = s.get(tx, EXPIRE)?;
    Ok(tx.query_one(&statement, &[&now, &account])?.get::<_, i64>(0) as u64)
}

fn rest(tx: &mut Transaction<'_>, s: &mut Statements, account: &str, owner: &str) -> Pg<Option<i64>> {
    let statement = s.get(tx, REST)?;
    Ok(tx.query_opt(&statement, &[&account, &owner])?.map(|r| r.get(0)))
}

pub(super) fn lease(c: &mut Client, s: &mut Statements, r: &LeaseRequest<'_>) -> Pg<Option<LeaseGrant>> {
    let mut tx = c.transaction()?;
    let statement = s.get(&mut tx, "SELECT balance FROM accounts WHERE id = $1 FOR UPDATE")?;
    if tx.query_opt(&statement, &[&r.account])?.is_none() {
        return Ok(None);
    }
    let now = now(&mut tx, s)?;
    expire(&mut tx, s, now, Some(r.account))?;
    let statement = s.get(&mut tx, "SELECT balance FROM accounts WHERE id = $1")?;
    let balance: i64 = tx.query_one(&statement, &[&r.account])?.get(0);
    let granted = grant_size(balance.saturating_add(r.overdraft), r.need, r.want);
    if granted > 0 {
        let statement = s.get(&mut tx, "UPDATE accounts SET balance = balance - $2 WHERE id = $1")?;
        tx.execute(&statement, &[&r.account, &granted])?;
        let statement = s.get(
            &mut tx,
            "INSERT INTO credit_leases (account, owner, amount, lease_until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account, owner) DO UPDATE SET amount = credit_leases.amount + EXCLUDED.amount, lease_until = EXCLUDED.lease_until",
        )?;
        tx.execute(&statement, &[&r.account, &r.owner, &granted, &lease_kept_until(now, r.lease_ms)])?;
    }
    let rest = rest(&mut tx, s, r.account, r.owner)?.unwrap_or(balance - granted);
    tx.commit()?;
    Ok(Some(LeaseGrant { granted, rest }))
}

pub(super) fn give_back(c: &mut Client, s: &mut Statements, account: &str, owner: &str, amount: Option<i64>) -> Pg<()> {
    let mut tx = c.transaction()?;
    // the account first, as a grant locks it: the two never wait on each other in a circle
    let statement = s.get(&mut tx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")?;
    tx.query_opt(&statement, &[&account])?;
    let statement = s.get(&mut tx, "SELECT amount FROM credit_leases WHERE account = $1 AND owner = $2 FOR UPDATE")?;
    // a lease that expired meanwhile was returned by whoever expired it
    if let Some(row) = tx.query_opt(&statement, &[&account, &owner])? {
        let back = amount.unwrap_or(row.get(0));
        let statement = s.get(&mut tx, "UPDATE accounts SET balance = balance + $2 WHERE id = $1")?;
        tx.execute(&statement, &[&account, &back])?;
        match amount {
            None => {
                let statement = s.get(&mut tx, "DELETE FROM credit_leases WHERE account = $1 AND owner = $2")?;
                tx.execute(&statement, &[&account, &owner])?;
            }
            Some(back) => {
                let statement = s.get(&mut tx, "UPDATE credit_leases SET amount = amount - $3 WHERE account = $1 AND owner = $2")?;
                tx.execute(&statement, &[&account, &owner, &back])?;
            }
        }
    }
    tx.commit()
}

pub(super) fn renew(c: &mut Client, s: &mut Statements, owner: &str, lease_ms: i64) -> Pg<Vec<(String, i64)>> {
    let mut tx = c.transaction()?;
    let now = now(&mut tx, s)?;
    expire(&mut tx, s, now, None)?;
    let statement = s.get(&mut tx, "UPDATE credit_leases SET lease_until = $2 WHERE owner = $1 RETURNING account")?;
    let held: Vec<String> = tx.query(&statement, &[&owner, &lease_kept_until(now, lease_ms)])?.iter().map(|r| r.get(0)).collect();
    let mut answer = Vec::with_capacity(held.len());
    for account in held {
        if let Some(rest) = rest(&mut tx, s, &account, owner)? {
            answer.push((account, rest));
        }
    }
    tx.commit()?;
    Ok(answer)
}

pub(super) fn expire_all(c: &mut Client, s: &mut Statements) -> Pg<u64> {
    let mut tx = c.transaction()?;
    let now = now(&mut tx, s)?;
    let gone = expire(&mut tx, s, now, None)?;
    tx.commit()?;
    Ok(gone)
}

pub(super) fn rest_of(c: &mut Client, s: &mut Statements, account: &str, owner: &str) -> Pg<Option<i64>> {
    let statement = s.get(c, REST)?;
    Ok(c.query_opt(&statement, &[&account, &owner])?.map(|r| r.get(0)))
}
