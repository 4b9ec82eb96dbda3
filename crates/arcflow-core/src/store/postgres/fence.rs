//! The fence check of a batch's transaction: which fenced runs another
//! worker holds now. Their rows stay locked until the batch commits, so a
//! takeover cannot slip in between the check and the writes.

use std::collections::HashMap;

use postgres::{Error, Transaction};

use super::Statements;
use crate::store::record::Fence;

/// The fenced runs whose row no longer says their fence's owner and epoch
/// (taken over, released, ended or gone), the rows locked until commit.
pub(super) fn fenced_out(tx: &mut Transaction<'_>, statements: &mut Statements, fences: &[Fence]) -> Result<Vec<String>, Error> {
    let ids: Vec<&str> = fences.iter().map(|f| f.run_id.as_str()).collect();
    let statement = statements.get(&mut *tx, HELD)?;
    let rows = tx.query(&statement, &[&ids])?;
    let held: HashMap<String, (Option<String>, i64)> = rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    let holds = |f: &Fence| held.get(&f.run_id).is_some_and(|(owner, epoch)| owner.as_deref() == Some(&*f.owner) && *epoch as u64 == f.epoch);
    Ok(fences.iter().filter(|f| !holds(f)).map(|f| f.run_id.clone()).collect())
}

const HELD: &str = "SELECT id, owner, epoch FROM runs WHERE id = ANY($1) ORDER BY id FOR UPDATE";
