//! A throwaway PostgreSQL server for tests (feature `postgres`).
//!
//! [`TestPostgres::start`] uses the server at `FERRITE_TEST_POSTGRES_URL` when that is
//! set, and otherwise starts its own from the machine's PostgreSQL binaries
//! (`/usr/lib/postgresql/<version>/bin`, Debian's `postgresql-15`; installed by
//! `scripts/install-postgres.sh`): `initdb` into a temporary directory, then
//! `postgres` on a free loopback port, stopped and removed on drop. Running as root,
//! the server runs as the `postgres` user, as PostgreSQL requires.
//!
//! When neither is available a test cannot run against PostgreSQL: [`TestPostgres::start`]
//! returns `None` and says so on stderr, unless `CI` or `FERRITE_REQUIRE_POSTGRES` is
//! set, where a missing server fails the test (CI installs it first).

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PostgreSQL server for one test, and a fresh database in it per [`TestPostgres::database`].
pub struct TestPostgres {
    /// `postgres://user@127.0.0.1:port/` without a database name.
    base: String,
    server: Option<Own>,
    databases: std::sync::Mutex<Vec<String>>,
}

/// A server this process started: how to start it again after [`TestPostgres::stop`].
struct Own {
    child: Option<Child>,
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    ids: Option<(u32, u32)>,
    /// More `-c name=value` settings.
    settings: Vec<String>,
}

impl Own {
    fn spawn(&mut self) -> io::Result<()> {
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "max_connections=200", "-c", "shared_buffers=64MB"])
            .args(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("server.log"))?,
            );
        if let Some((uid, gid)) = self.ids {
            use std::os::unix::process::CommandExt as _;
            postgres.uid(uid).gid(gid);
        }
        self.child = Some(postgres.spawn()?);
        self.wait_ready()
    }

    fn wait_ready(&self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()?
                .success();
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
                return Err(io::Error::other(format!("PostgreSQL did not start: {log}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A fast shutdown (SIGINT: sessions are disconnected, nothing committed is lost).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
            }
            let _ = child.wait();
        }
    }
}

fn required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("FERRITE_REQUIRE_POSTGRES").is_some_and(|v| v == "1")
}

/// The newest PostgreSQL server binaries on the machine.
pub fn server_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

/// The uid and gid of `user`, from /etc/passwd.
fn user_ids(user: &str) -> io::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == user)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| io::Error::other(format!("no user {user} (PostgreSQL refuses to run as root)")))
}

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `cmd`, as `ids` when given; fails with its output when it fails.
fn run(mut cmd: Command, ids: Option<(u32, u32)>) -> io::Result<()> {
    use std::os::unix::process::CommandExt as _;
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

impl TestPostgres {
    /// A server, or `None` (with a note on stderr) where there is none to use and none
    /// is required. Panics when one is required and cannot be had.
    pub fn start() -> Option<Self> {
        Self::start_or_skip(false)
    }

    /// Like [`TestPostgres::start`], but always a server of this process's own (not
    /// `FERRITE_TEST_POSTGRES_URL`'s), for tests that stop and start it.
    pub fn start_own() -> Option<Self> {
        Self::start_or_skip(true)
    }

    /// A server of this process's own that also accepts TLS (`ssl=on`), with this
    /// certificate chain and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Option<Self> {
        Self::start_or_skip_with(true, Some((cert_pem, key_pem)))
    }

    fn start_or_skip(own: bool) -> Option<Self> {
        Self::start_or_skip_with(own, None)
    }

    fn start_or_skip_with(own: bool, tls: Option<(&str, &str)>) -> Option<Self> {
        match Self::try_start(own, tls) {
            Ok(Some(pg)) => Some(pg),
            Ok(None) if required() => panic!(
                "PostgreSQL is required here (CI or FERRITE_REQUIRE_POSTGRES=1) but there is no server: run scripts/install-postgres.sh or set FERRITE_TEST_POSTGRES_URL"
            ),
            Ok(None) => {
                eprintln!(
                    "SKIPPED: no PostgreSQL here (no FERRITE_TEST_POSTGRES_URL and no /usr/lib/postgresql/*/bin); scripts/install-postgres.sh installs it"
                );
                None
            }
            Err(e) => panic!("starting a test PostgreSQL server: {e}"),
        }
    }

    fn try_start(own: bool, tls: Option<(&str, &str)>) -> io::Result<Option<Self>> {
        if let Ok(url) = std::env::var("FERRITE_TEST_POSTGRES_URL")
            && !own
        {
            let base = url.trim_end_matches('/').to_string();
            let base = match base.rfind('/') {
                Some(i) if i > "postgres://".len() => base[..i].to_string(),
                _ => base,
            };
            return Ok(Some(Self {
                base,
                server: None,
                databases: Default::default(),
            }));
        }
        let Some(bin) = server_bin_dir() else {
            return Ok(None);
        };
        let dir = tempfile::Builder::new().prefix("ferrite-pg-").tempdir()?;
        let data = dir.path().join("data");
        let ids = if rustix::process::geteuid().is_root() {
            let ids = user_ids("postgres")?;
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1))?;
            Some(ids)
        } else {
            None
        };
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["-A", "trust", "-U", "ferrite", "-E", "UTF8", "--locale=C", "-N", "-D"])
            .arg(&data);
        run(initdb, ids)?;
        let mut settings = Vec::new();
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt as _;
            let (cert_path, key_path) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&cert_path, cert)?;
            std::fs::write(&key_path, key)?;
            // PostgreSQL takes a key only its owner can read.
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
            if let Some((uid, gid)) = ids {
                for p in [&cert_path, &key_path] {
                    std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
                }
            }
            settings.push("ssl=on".to_string());
            settings.push(format!("ssl_cert_file={}", cert_path.display()));
            settings.push(format!("ssl_key_file={}", key_path.display()));
        }
        let port = free_port()?;
        let mut own = Own {
            child: None,
            dir,
            bin,
            port,
            ids,
            settings,
        };
        own.spawn()?;
        Ok(Some(Self {
            base: format!("postgres://ferrite@127.0.0.1:{port}"),
            server: Some(own),
            databases: Default::default(),
        }))
    }

    /// Stops a server this process started (a fast shutdown), to see what clients do
    /// without it. Panics for a server given by URL.
    pub fn stop(&mut self) {
        self.server.as_mut().expect("a server of this test's own").stop();
    }

    /// Starts a stopped server again, on the same port and data.
    pub fn start_again(&mut self) {
        self.server
            .as_mut()
            .expect("a server of this test's own")
            .spawn()
            .expect("PostgreSQL starts again");
    }

    /// The URL of a new, empty database of its own.
    pub fn database(&self) -> String {
        let name = format!("ferrite_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        self.psql(&format!("CREATE DATABASE {name}"));
        self.databases.lock().unwrap().push(name.clone());
        format!("{}/{name}", self.base)
    }

    /// The first column of the first row `sql` returns, as text (with psql).
    pub fn psql_value(&self, sql: &str) -> String {
        self.run_psql("?sslmode=disable", &["-At"], sql)
    }

    /// Runs one SQL command on the server's `postgres` database (with psql).
    pub fn psql(&self, sql: &str) {
        self.run_psql("", &[], sql);
    }

    /// psql on the `postgres` database, `query` (empty or `?...`) added to its URL; its
    /// output.
    fn run_psql(&self, query: &str, args: &[&str], sql: &str) -> String {
        let out = Command::new("psql")
            .arg(format!("{}/postgres{query}", self.base))
            .args(["-v", "ON_ERROR_STOP=1", "-q"])
            .args(args)
            .args(["-c", sql])
            .output()
            .expect("psql runs (Debian's postgresql-client)");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        match self.server.take() {
            Some(mut own) => own.stop(),
            None => {
                for db in self.databases.lock().map(|d| d.clone()).unwrap_or_default() {
                    let _ = Command::new("psql")
                        .arg(format!("{}/postgres", self.base))
                        .args(["-q", "-c", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")])
                        .output();
                }
            }
        }
    }
}
