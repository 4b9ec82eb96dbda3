//! The backend contract (`contract/mod.rs`) against PostgreSQL: one
//! throwaway cluster for this binary (`support/postgres.rs`), a schema of
//! its own per test.

mod contract;
mod support;

use arcflow_core::store::{self, Store};

struct Postgres {
    store: Box<dyn Store>,
    schema: String,
    url: String,
}

impl Postgres {
    fn open() -> Self {
        let (url, schema) = support::postgres::cluster().fresh_url("contract");
        let store = store::open(&url).unwrap_or_else(|e| panic!("{e}"));
        Postgres { store, schema, url }
    }
}

impl contract::Backend for Postgres {
    fn store(&mut self) -> &mut dyn Store {
        &mut *self.store
    }

    fn refuse_events_saying(&mut self, message: &str) {
        // a CHECK constraint: check_violation, a permanent error
        let mut client = support::postgres::cluster().client();
        client
            .batch_execute(&format!(
                "ALTER TABLE \"{}\".events ADD CONSTRAINT refuse_events CHECK (message <> '{}')",
                self.schema,
                message.replace('\'', "''")
            ))
            .unwrap();
    }

    fn url(&self) -> String {
        self.url.clone()
    }
}

contract::contract_tests!(Postgres::open);
