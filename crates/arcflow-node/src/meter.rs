//! Metering, as plain functions over a per-thread registry of meters (one
//! per in-memory engine, one per durable store shared by the engines of
//! this thread on it: see `lib/store/shared.ts`; and `arcflow_core::meter`). Reserve and settle are on the
//! per-attempt path: numbers only, no strings cross.

use std::cell::RefCell;
use std::sync::Arc;

use arcflow_core::flow::{Billing, Charge};
use arcflow_core::meter::lease::LeaseConfig;
use arcflow_core::meter::{Meter, Reservation, RunMeter, MAX_AMOUNT};
use arcflow_core::store::Store;
use napi::bindgen_prelude::{AbortSignal, AsyncTask};
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::flow::internal;
use crate::protocol::{outcome_status, Unit};
use crate::registry::with_run;
use crate::store::NativeStore;
use crate::store_read::{Query, Read};

thread_local! {
    /// Meters by handle; a closed engine's slot is emptied.
    static METERS: RefCell<Vec<Option<Arc<Meter>>>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn meter(handle: u32) -> arcflow_core::Result<Arc<Meter>> {
    METERS.with(|m| m.borrow().get(handle as usize).cloned().flatten()).ok_or_else(|| internal(&format!("no meter {handle}")))
}

/// Credits from JavaScript: a whole number from 0 to 2^53 - 1.
pub(crate) fn credits(value: f64, what: &str) -> arcflow_core::Result<i64> {
    if !(value.fract() == 0.0 && (0.0..=MAX_AMOUNT as f64).contains(&value)) {
        return Err(arcflow_core::Error::InvalidValue {
            message: format!("{what} must be a whole number of credits from 0 to 2^53 - 1, got {value}"),
        });
    }
    Ok(value as i64)
}

/// A metered attempt's reservation and reported charge (-1: none) as the core takes them.
pub(crate) fn charge(reserved: f64, reported: Option<f64>) -> arcflow_core::Result<Charge> {
    let reported = match reported {
        Some(r) if r >= 0.0 => Some(credits(r, "a charge")?),
        _ => None,
    };
    Ok(Charge { reserved: credits(reserved, "a reservation")?, reported })
}

/// Runs `f` with the store's reader, as committed now, when the meter is
/// durable. It does not wait for this meter's queued writes: those only
/// concern accounts it already holds in memory (a charge is queued on an
/// account it resolved, a credit on one it added, and its credit keys are
/// in memory too), whose answers never come from the store; so an account
/// read here has nothing of this meter's in the queue, and nothing is missed.
/// Nor does it wait for a lock another process holds (see `with_reader`).
fn with_store<T>(
    meter: &Meter,
    store: Option<&NativeStore>,
    f: impl FnOnce(Option<&mut dyn Store>) -> arcflow_core::Result<T>,
) -> arcflow_core::Result<T> {
    match (meter.durable(), store) {
        (true, Some(store)) => store.with_reader(|reader| f(Some(reader))),
        (true, None) => Err(internal("a durable meter needs its store")),
        (false, _) => f(None),
    }
}

/// A meter for an engine (its ledger in `store`, else in memory); answers
/// its handle. On a store other processes share (PostgreSQL, SQLite unless
/// `locking=exclusive`) it leases credit through a connection of its own
/// (`arcflow_core::meter::lease`); `leaseMs`: the lease's length (default 30 s).
#[napi(js_name = "meterCreate")]
pub fn meter_create(store: Option<&NativeStore>, overdraft: f64, lease_ms: Option<u32>) -> Result<u32, JsError> {
    guard(|| {
        let overdraft = if overdraft.is_infinite() { i64::MAX / 2 } else { credits(overdraft, "overdraft")? };
        let meter = match store {
            Some(s) if arcflow_core::store::shared_by_processes(&s.url)? => {
                let mut config = LeaseConfig::default();
                if let Some(ms) = lease_ms {
                    config.lease = std::time::Duration::from_millis(u64::from(ms.max(100)));
                }
                Meter::leasing(Arc::clone(&s.writer), overdraft, arcflow_core::store::open(&s.url)?, config)?
            }
            _ => Meter::new(store.map(|s| Arc::clone(&s.writer)), overdraft),
        };
        let meter = Arc::new(meter);
        Ok(METERS.with(|m| {
            let mut meters = m.borrow_mut();
            meters.push(Some(meter));
            (meters.len() - 1) as u32
        }))
    })
}

/// The id of account `name`, or -1 when there is none.
#[napi(js_name = "meterAccount")]
pub fn meter_account(handle: u32, name: String, store: Option<&NativeStore>) -> Result<i32, JsError> {
    guard(|| {
        let meter = meter(handle)?;
        Ok(with_store(&meter, store, |s| meter.resolve(&name, s))?.map_or(-1, |id| id as i32))
    })
}

/// A meter, the costs of a workflow's tasks (`None`: set by a function),
/// and whether failed attempts are billed.
type CostTable = (Arc<Meter>, Arc<[Option<i64>]>, bool);

thread_local! {
    /// Cost tables, made once per workflow and engine; a closed engine's are emptied.
    static TABLES: RefCell<Vec<Option<CostTable>>> = const { RefCell::new(Vec::new()) };
}

/// A cost table for runs of one workflow on meter `handle`: each task's cost,
/// or -1 when a function of the input sets it; `billFailed`: failed attempts
/// are charged too. Answers its id.
#[napi(js_name = "meterCostTable")]
pub fn meter_cost_table(handle: u32, costs: Vec<f64>, bill_failed: bool) -> Result<u32, JsError> {
    guard(|| {
        let meter = meter(handle)?;
        let costs = costs
            .into_iter()
            .map(|c| if c < 0.0 { Ok(None) } else { credits(c, "a cost").map(Some) })
            .collect::<arcflow_core::Result<Vec<_>>>()?;
        Ok(TABLES.with(|t| {
            let mut tables = t.borrow_mut();
            tables.push(Some((meter, costs.into(), bill_failed)));
            (tables.len() - 1) as u32
        }))
    })
}

/// A run's billing: its cost table and account (none: the run is not metered).
pub(crate) fn run_billing(table: Option<u32>, account: Option<u32>) -> arcflow_core::Result<Option<Billing>> {
    let (Some(table), Some(account)) = (table, account) else { return Ok(None) };
    let (meter, costs, bill_failed) = TABLES
        .with(|t| t.borrow().get(table as usize).cloned().flatten())
        .ok_or_else(|| internal(&format!("no cost table {table}")))?;
    Ok(Some(Billing::new(RunMeter { meter, account, costs }, bill_failed)))
}

/// Reserves `amount` (a cost a function of the input set) on a metered
/// run's account, without waiting for I/O: 0 reserved, -1 not covered, or
/// the ticket (1 or more) of a reservation waiting for a lease (`meterWait`).
#[napi(js_name = "meterReserve")]
pub fn meter_reserve(run: u32, amount: f64) -> Result<f64, JsError> {
    guard(|| {
        let amount = credits(amount, "a cost")?;
        Ok(match with_run(run, |state| state.reserve(amount))? {
            Reservation::Reserved => 0.0,
            Reservation::Short(_) => -1.0,
            Reservation::Pending(ticket) => ticket as f64,
        })
    })
}

/// Where a metered run's reservation waiting for a lease (`ticket`)
/// stands, no I/O: `[0]` reserved, `[1]` waiting, `[2, balance]` refused.
#[napi(js_name = "meterWait")]
pub fn meter_wait(run: u32, ticket: f64) -> Result<Vec<f64>, JsError> {
    guard(|| {
        Ok(match with_run(run, |state| state.credit_wait(ticket as u64))? {
            Ok(true) => vec![0.0],
            Ok(false) => vec![1.0],
            Err(balance) => vec![2.0, balance as f64],
        })
    })
}

/// Ends a reservation of a metered run's attempt (`unit`, `item` -1: the
/// task itself) that ended with `status` (0 succeeded): the core charges it
/// (see `Billing::settle`) and gives the rest back. `reported`: what the
/// handler charged, -1 for none.
#[napi(js_name = "meterSettle")]
pub fn meter_settle(run: u32, unit: f64, item: i32, status: u32, reserved: f64, reported: f64) -> Result<(), JsError> {
    guard(|| {
        let Unit { task, step, attempt } = Unit::unpack(unit)?;
        let succeeded = outcome_status(status)? == arcflow_core::OutcomeStatus::Succeeded;
        let charge = charge(reserved, Some(reported))?;
        with_run(run, |state| state.settle(task, step, i64::from(item), attempt, charge, succeeded))
    })
}

/// Gives a metered run's reservation back whole (an attempt that ended
/// after its task, or was cancelled).
#[napi(js_name = "meterRelease")]
pub fn meter_release(run: u32, reserved: f64) -> Result<(), JsError> {
    guard(|| {
        let amount = credits(reserved, "a reservation")?;
        with_run(run, |state| state.release(amount))
    })
}

/// Credits an account once per key: `{"applied":bool,"balance":n}`.
#[napi(js_name = "meterCredit")]
pub fn meter_credit(handle: u32, name: String, amount: f64, key: String, store: Option<&NativeStore>) -> Result<String, JsError> {
    guard(|| {
        let meter = meter(handle)?;
        let amount = credits(amount, "a credit")?;
        let (applied, balance) = with_store(&meter, store, |s| meter.credit(&name, amount, &key, s))?;
        Ok(format!("{{\"applied\":{applied},\"balance\":{balance}}}"))
    })
}

/// An account's balance, or null when there is no such account.
#[napi(js_name = "meterBalance")]
pub fn meter_balance(handle: u32, name: String, store: Option<&NativeStore>) -> Result<Option<f64>, JsError> {
    guard(|| {
        let meter = meter(handle)?;
        Ok(with_store(&meter, store, |s| meter.balance(&name, s))?.map(|b| b as f64))
    })
}

/// An account's latest ledger entries, newest first: JSON text, as a
/// history read (`store_read.rs`): a durable meter's ledger is in the
/// database, read after this process's queued charges commit.
#[napi(
    js_name = "meterLedger",
    ts_args_type = "handle: number, name: string, limit: number, store: NativeStore | undefined | null, signal?: AbortSignal | undefined | null",
    ts_return_type = "Promise<string>"
)]
pub fn meter_ledger<'a>(handle: u32, name: String, limit: u32, store: Option<&'a NativeStore>, signal: Option<AbortSignal>) -> Result<AsyncTask<Read<'a>>, JsError> {
    guard(|| {
        let meter = meter(handle)?;
        let store = if meter.durable() { Some(store.ok_or_else(|| internal("a durable meter needs its store"))?) } else { None };
        Ok(Read::spawn_on(store, Query::Ledger { meter, account: name, limit }, signal))
    })
}

/// A leasing meter's database calls (`LeaseStats`, JSON), or null for a
/// meter that owns its balances.
#[napi(js_name = "meterStats")]
pub fn meter_stats(handle: u32) -> Result<Option<String>, JsError> {
    guard(|| {
        let meter = meter(handle)?;
        meter.lease_stats().map(|s| serde_json::to_string(&s).map_err(|e| internal(&e.to_string()))).transpose()
    })
}

/// Frees a closed engine's cost tables, and a meter no engine uses any
/// more (`handle`; none: engines on one store share its meter, freed with
/// the last one). Runs still live keep what they hold. A leasing meter
/// gives its leases back first: it waits (at most 2 s) for its queued
/// charges, then one round trip per account it holds.
#[napi(js_name = "meterClose")]
pub fn meter_close(handle: Option<u32>, tables: Vec<u32>) {
    if let Some(handle) = handle {
        let meter = METERS.with(|m| m.borrow_mut().get_mut(handle as usize).and_then(Option::take));
        if let Some(meter) = meter {
            // a failure leaves the leases to expire: nothing is lost, only late
            let _ = meter.close(std::time::Duration::from_secs(2));
        }
    }
    TABLES.with(|t| {
        let mut all = t.borrow_mut();
        for table in tables {
            if let Some(slot) = all.get_mut(table as usize) {
                *slot = None;
            }
        }
    });
}
