//! Metering, as plain functions over a per-thread registry of meters (one
//! per engine; see `arcflow_core::meter`). Reserve and settle are on the
//! per-attempt path: numbers only, no strings cross.

use std::cell::RefCell;
use std::sync::Arc;

use arcflow_core::meter::{Meter, RunMeter, MAX_AMOUNT};
use arcflow_core::store::Store;
use napi::bindgen_prelude::{AbortSignal, AsyncTask};
use napi_derive::napi;

use crate::error::{guard, JsError};
use crate::flow::internal;
use crate::registry::with_run;
use crate::store::NativeStore;
use crate::store_read::{Query, Read};

thread_local! {
    /// Meters by handle; a closed engine's slot is emptied.
    static METERS: RefCell<Vec<Option<Arc<Meter>>>> = const { RefCell::new(Vec::new()) };
}

fn meter(handle: u32) -> arcflow_core::Result<Arc<Meter>> {
    METERS.with(|m| m.borrow().get(handle as usize).cloned().flatten()).ok_or_else(|| internal(&format!("no meter {handle}")))
}

/// Credits from JavaScript: a whole number from 0 to 2^53 - 1.
fn credits(value: f64, what: &str) -> arcflow_core::Result<i64> {
    if !(value.fract() == 0.0 && (0.0..=MAX_AMOUNT as f64).contains(&value)) {
        return Err(arcflow_core::Error::InvalidValue {
            message: format!("{what} must be a whole number of credits from 0 to 2^53 - 1, got {value}"),
        });
    }
    Ok(value as i64)
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

/// A meter for an engine (its ledger in `store`, else in memory); answers its handle.
#[napi(js_name = "meterCreate")]
pub fn meter_create(store: Option<&NativeStore>, overdraft: f64) -> Result<u32, JsError> {
    guard(|| {
        let overdraft = if overdraft.is_infinite() { i64::MAX / 2 } else { credits(overdraft, "overdraft")? };
        let meter = Arc::new(Meter::new(store.map(|s| Arc::clone(&s.writer)), overdraft));
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

/// A meter and the costs of a workflow's tasks (`None`: set by a function).
type CostTable = (Arc<Meter>, Arc<[Option<i64>]>);

thread_local! {
    /// Cost tables, made once per workflow and engine; a closed engine's are emptied.
    static TABLES: RefCell<Vec<Option<CostTable>>> = const { RefCell::new(Vec::new()) };
}

/// A cost table for runs of one workflow on meter `handle`: each task's cost,
/// or -1 when a function of the input sets it. Answers its id.
#[napi(js_name = "meterCostTable")]
pub fn meter_cost_table(handle: u32, costs: Vec<f64>) -> Result<u32, JsError> {
    guard(|| {
        let meter = meter(handle)?;
        let costs = costs
            .into_iter()
            .map(|c| if c < 0.0 { Ok(None) } else { credits(c, "a cost").map(Some) })
            .collect::<arcflow_core::Result<Vec<_>>>()?;
        Ok(TABLES.with(|t| {
            let mut tables = t.borrow_mut();
            tables.push(Some((meter, costs.into())));
            (tables.len() - 1) as u32
        }))
    })
}

/// A run's meter: its cost table and account (none: the run is not metered).
pub(crate) fn run_meter_of(table: Option<u32>, account: Option<u32>) -> arcflow_core::Result<Option<RunMeter>> {
    let (Some(table), Some(account)) = (table, account) else { return Ok(None) };
    let (meter, costs) = TABLES
        .with(|t| t.borrow().get(table as usize).cloned().flatten())
        .ok_or_else(|| internal(&format!("no cost table {table}")))?;
    Ok(Some(RunMeter { meter, account, costs }))
}

fn run_meter(state: &arcflow_core::flow::RunState) -> arcflow_core::Result<RunMeter> {
    state.meter.clone().ok_or_else(|| internal("the run is not metered"))
}

/// Reserves `amount` on a metered run's account: true if its balance covered it.
#[napi(js_name = "meterReserve")]
pub fn meter_reserve(run: u32, amount: f64) -> Result<bool, JsError> {
    guard(|| {
        let amount = credits(amount, "a cost")?;
        with_run(run, |state| {
            let m = run_meter(state)?;
            Ok(m.meter.reserve(m.account, amount)?.is_ok())
        })
    })
}

/// Ends a reservation of a metered run: `charged` is billed to the unit
/// `unit` (`task * 2^36 + step * 2^16 + attempt`) and `item` (-1: the task
/// itself), the rest of `reserved` returns to the balance.
#[napi(js_name = "meterSettle")]
pub fn meter_settle(run: u32, unit: f64, item: i32, reserved: f64, charged: f64) -> Result<(), JsError> {
    guard(|| {
        if !((0.0..4_503_599_627_370_496.0).contains(&unit) && unit.fract() == 0.0) {
            return Err(internal(&format!("bad unit {unit}")));
        }
        let packed = unit as u64;
        let (task, step, attempt) = ((packed >> 36) as u32, ((packed >> 16) & 0xF_FFFF) as u32, (packed & 0xFFFF) as u32);
        with_run(run, |state| settle(state, task, step, i64::from(item), attempt, reserved, charged))
    })
}

/// Settles a metered run's unit (see `meterSettle`; `runComplete` does it for
/// a task's last attempt, `runItemDone` for a durable run's item). A durable
/// run queues the charge with the call's journal writes: one group, which a
/// batch never splits, so a charge never commits without its completion.
pub(crate) fn settle(
    state: &mut arcflow_core::flow::RunState,
    task: u32,
    step: u32,
    item: i64,
    attempt: u32,
    reserved: f64,
    charged: f64,
) -> arcflow_core::Result<()> {
    let (reserved, charged) = (credits(reserved, "a reservation")?, credits(charged, "a charge")?);
    let m = run_meter(state)?;
    let key = state.unit_key(task, step, item, attempt)?;
    let Some(write) = m.meter.charge(m.account, reserved, charged, key)? else { return Ok(()) };
    match state.journal_mut() {
        Some(journal) => {
            journal.push(arcflow_core::store::Write::Ledger(write));
            Ok(())
        }
        None => m.meter.record(write),
    }
}

/// Returns a reservation whole (nothing is billed).
#[napi(js_name = "meterRelease")]
pub fn meter_release(handle: u32, account: u32, reserved: f64) -> Result<(), JsError> {
    guard(|| meter(handle)?.release(account, credits(reserved, "a reservation")?))
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

/// Frees a closed engine's meter and cost tables (runs still live keep
/// what they hold).
#[napi(js_name = "meterClose")]
pub fn meter_close(handle: u32, tables: Vec<u32>) {
    METERS.with(|m| {
        if let Some(slot) = m.borrow_mut().get_mut(handle as usize) {
            *slot = None;
        }
    });
    TABLES.with(|t| {
        let mut all = t.borrow_mut();
        for table in tables {
            if let Some(slot) = all.get_mut(table as usize) {
                *slot = None;
            }
        }
    });
}
