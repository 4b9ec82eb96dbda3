//! A throwaway PostgreSQL cluster per test binary: `cluster()` starts it
//! once (a `OnceLock`), each test takes a schema of its own
//! (`Cluster::fresh_url`), and it is stopped when the binary exits.
//!
//! - Debian's binaries, from `/usr/lib/postgresql/<newest>/bin`, run as the
//!   `postgres` user (`runuser`: PostgreSQL refuses to run as root) in a
//!   temporary directory that user owns; on a free port of 127.0.0.1 only,
//!   with `fsync=off` (a test cluster need not survive a power cut).
//! - Stopped by an `atexit` hook (the test harness exits through `exit`,
//!   failed tests included: a panicking test still stops it), by `Drop` for
//!   a cluster that is not the shared one, and, should the binary die
//!   without exiting (abort, SIGKILL), by a watchdog process that waits for
//!   the binary's pid to go away.
//! - A test that needs PostgreSQL and cannot start it fails: `cluster()`
//!   panics with what went wrong; nothing here skips.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    /// Taken by the first stop.
    watchdog: Mutex<Option<Child>>,
    stopped: Mutex<bool>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The binary's cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let cluster = Cluster::start();
        extern "C" fn stop_at_exit() {
            if let Some(cluster) = CLUSTER.get() {
                cluster.stop();
            }
        }
        // SAFETY: registering a plain extern "C" function with no arguments
        unsafe { libc::atexit(stop_at_exit) };
        cluster
    })
}

/// The newest installed PostgreSQL's `bin` directory.
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<f64>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed (no {}/<version>/bin/initdb): install Debian's postgresql package (.ci/run does); \
             a PostgreSQL test fails rather than skips",
            root.display()
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port on 127.0.0.1").port()
}

/// Runs `program args` as the `postgres` user, in `dir`; panics with its output if it fails.
fn as_postgres(dir: &Path, program: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run runuser (PostgreSQL must run as the postgres user): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {} failed ({}):\n{}{}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Cluster {
    /// initdb, then pg_ctl start on a free port; panics if it cannot.
    pub fn start() -> Cluster {
        Cluster::start_with("")
    }

    /// As [`Cluster::start`], the server started with `settings` too
    /// (`-c name=value ...`, e.g. a library to preload).
    pub fn start_with(settings: &str) -> Cluster {
        let bin = bin_dir();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("arcflow-pg-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory for the cluster");
        let chown = Command::new("chown").arg("postgres:postgres").arg(&dir).status().expect("chown");
        assert!(chown.success(), "cannot give {} to the postgres user", dir.display());
        let mut cluster = Cluster { port: 0, dir, bin, watchdog: Mutex::new(None), stopped: Mutex::new(false) };
        // from here a panic drops `cluster`, which stops and removes what was started
        let data = cluster.data();
        as_postgres(&cluster.dir, &cluster.bin.join("initdb"), &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
            .unwrap_or_else(|e| panic!("cannot create a PostgreSQL cluster: {e}"));
        cluster.watch();
        let mut last = String::new();
        // a port found free can be taken before the server binds it: try another
        for _ in 0..3 {
            cluster.port = free_port();
            let options = format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c synchronous_commit=off -c full_page_writes=off {settings}",
                cluster.port,
                cluster.dir.display()
            );
            let log = cluster.dir.join("server.log");
            match as_postgres(&cluster.dir, &cluster.bin.join("pg_ctl"), &["-D", &data, "-l", &log.to_string_lossy(), "-o", &options, "-w", "-t", "60", "start"]) {
                Ok(()) => return cluster,
                Err(e) => last = format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()),
            }
        }
        panic!("cannot start PostgreSQL: {last}");
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    /// Should this process die without exiting, a shell stops the cluster.
    fn watch(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; runuser -u postgres -- {pg_ctl} -D {data} -m immediate stop; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data(),
            dir = self.dir.display(),
        );
        let child = Command::new("sh").arg("-c").arg(script).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        *self.watchdog.lock().unwrap() = child.ok();
    }

    /// Stops the server and removes its directory (once; later calls do nothing).
    pub fn stop(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        if *stopped {
            return;
        }
        *stopped = true;
        if self.port != 0 {
            let _ = as_postgres(&self.dir, &self.bin.join("pg_ctl"), &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut watchdog) = self.watchdog.lock().unwrap_or_else(|p| p.into_inner()).take() {
            // our own child, by its handle
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }

    /// The URL of the cluster's `postgres` database, in `schema`.
    pub fn url(&self, schema: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres?schema={schema}", self.port)
    }

    /// A schema no other test of this binary uses (created by the store's open).
    pub fn fresh_schema(&self, prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// A URL on a fresh schema, and the schema.
    pub fn fresh_url(&self, prefix: &str) -> (String, String) {
        let schema = self.fresh_schema(prefix);
        (self.url(&schema), schema)
    }

    /// A plain client for what a test does behind the store's back.
    pub fn client(&self) -> postgres::Client {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
