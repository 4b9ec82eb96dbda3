//! The credit thread (`arcflow-credit`): at each tick, or when a
//! reservation leaves a block under its low water, it follows each
//! account's spending rate, serves the reservations waiting for a lease,
//! tops active blocks up and gives idle ones back; every third of the lease
//! it renews this meter's leases.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::block::{self, Rate};
use super::{Accounts, Leases};
use crate::error::Result;
use crate::meter::Account;
use crate::store::WriteBehind;

/// Per account, what the background thread follows.
struct Track {
    last: i64,
    rate: Rate,
    active_at: Instant,
    /// After a refused top-up: not again before this.
    dry_until: Instant,
}

impl Leases {
    /// The credit thread's loop, until `close` stops it.
    pub(super) fn run(&self, accounts: &Accounts, writer: &WriteBehind) {
        let mut tracks: HashMap<usize, Track> = HashMap::new();
        let mut last_tick = Instant::now();
        let mut last_renew = last_tick;
        loop {
            {
                let mut signal = self.signal.lock().unwrap_or_else(|p| p.into_inner());
                if !signal.stop && !signal.woken {
                    signal = self.wake.wait_timeout(signal, self.config.tick).unwrap_or_else(|p| p.into_inner()).0;
                }
                if signal.stop {
                    return;
                }
                signal.woken = false;
            }
            let now = Instant::now();
            let elapsed = now - last_tick;
            last_tick = now;
            let list = accounts.read().map(|a| a.clone()).unwrap_or_default();
            for (i, account) in list.iter().enumerate() {
                let reserved = account.reserved.load(Ordering::Relaxed);
                let track = tracks.entry(i).or_insert(Track { last: reserved, rate: Rate::default(), active_at: now, dry_until: now });
                track.rate.observe(reserved - track.last, elapsed);
                if reserved != track.last {
                    track.active_at = now;
                }
                track.last = reserved;
                if let Err(e) = self.serve(account).and_then(|()| self.tend(account, track, now)) {
                    self.note(&e);
                }
            }
            self.tell(); // once per pass, whatever settled in it
            
            if now - last_renew >= self.config.lease / 3 {
                last_renew = now;
                // this meter's own credits committed first: the rest read next includes them
                // (only then: waiting for the flush would make the renewal late)
                if self.credit_in_flight() {
                    writer.settle(Duration::from_secs(1));
                }
                let list: Vec<&Account> = list.iter().map(|a| &**a).collect();
                if let Err(e) = self.renew_with(&mut **self.conn(), &list) {
                    self.note(&e);
                }
            }
        }
    }

    /// Tops an active account's block up, or gives an idle one's back.
    fn tend(&self, account: &Account, track: &mut Track, now: Instant) -> Result<()> {
        let size = block::block(track.rate, account.largest_wait.load(Ordering::Relaxed));
        let low = block::low_water(size);
        account.block.store(size, Ordering::Relaxed);
        account.low.store(low, Ordering::Relaxed);
        let local = account.balance.load(Ordering::Acquire);
        let active = now - track.active_at < self.config.idle;
        if active && track.last > 0 && local < low && now >= track.dry_until {
            let granted = self.grant(&mut **self.conn(), account, 0, size - local)?;
            if granted == 0 {
                track.dry_until = now + self.config.tick * 10;
            }
        } else if !active && local != 0 && account.held.load(Ordering::Acquire) {
            let back = account.balance.swap(0, Ordering::AcqRel);
            self.conn().return_credit(&account.name, &self.owner, Some(back)).inspect_err(|_| {
                // not given back: still this meter's to spend
                account.balance.fetch_add(back, Ordering::AcqRel);
            })?;
            account.rest.fetch_add(back, Ordering::AcqRel);
            self.counters.returns.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}
