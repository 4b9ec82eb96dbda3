//! The backend contract (`contract/mod.rs`) against SQLite: a new database
//! file per test, under the system's temporary directory, removed after.

mod contract;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use arcflow_core::store::{self, Store};

struct Sqlite {
    store: Box<dyn Store>,
    dir: PathBuf,
}

impl Sqlite {
    fn open() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("arcflow-contract-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = store::open(&format!("sqlite:{}", dir.join("arcflow.db").display())).unwrap();
        Sqlite { store, dir }
    }
}

impl contract::Backend for Sqlite {
    fn store(&mut self) -> &mut dyn Store {
        &mut *self.store
    }

    fn refuse_events_saying(&mut self, message: &str) {
        // RAISE(ABORT) in a trigger is a constraint failure, as a CHECK would be
        let conn = rusqlite::Connection::open(self.dir.join("arcflow.db")).unwrap();
        conn.execute_batch(&format!(
            "CREATE TRIGGER refuse_events BEFORE INSERT ON events WHEN NEW.message = '{}'
             BEGIN SELECT RAISE(ABORT, 'event refused by the test'); END;",
            message.replace('\'', "''")
        ))
        .unwrap();
    }

    fn url(&self) -> String {
        format!("sqlite:{}", self.dir.join("arcflow.db").display())
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

contract::contract_tests!(Sqlite::open);
