//! The metadata store on PostgreSQL (feature `postgres`): what stateless gateways
//! share when one machine is not enough (`ferrite serve --meta postgres://...`).
//!
//! # Layout
//! One table holds every logical table, as in the SQLite store:
//! `ferrite_kv (tbl text COLLATE "C", k bytea, v bytea, PRIMARY KEY (tbl, k))`.
//! `bytea` compares bytewise, so a range scan over `(tbl, k)` walks keys in S3's byte
//! order on the primary key's B-tree: a page of a listing is one index range scan,
//! however big the table. The SQL is plain PostgreSQL without extensions; what would
//! change for another PostgreSQL-protocol database is noted in `docs/CLUSTER.md`.
//!
//! # Transactions
//! - A write transaction is `SERIALIZABLE`. A serialization failure or a deadlock
//!   (SQLSTATE 40001, 40P01) on any statement, the commit included, is
//!   [`StoreError::Conflict`]: PostgreSQL rolled it all back, and the model runs the
//!   whole job again (see [`crate::MetaStore`]). So is a connection lost before the
//!   commit was sent (nothing was committed). A connection lost while the commit was
//!   in flight leaves its outcome unknown: that is an engine error, never retried
//!   blindly.
//! - A read transaction is `REPEATABLE READ READ ONLY`, PostgreSQL's snapshot, taken
//!   when the transaction begins (a first statement is sent with `BEGIN`).
//!
//! # Threads
//! The [`crate::MetaStore`] trait is blocking; tokio-postgres is async. The store owns
//! a small tokio runtime that drives its connections, and each call blocks its own
//! thread on the reply (never on another runtime's `block_on`), so the model can call
//! it from its blocking pool or, briefly, from async code, as it calls redb.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::Bound;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls, Statement};

use crate::{MetaStore, ReadTxn, StoreError, StoreResult, Table, WriteTxn};

/// How the store connects and commits.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections per gateway (each blocking call holds one for its transaction).
    pub pool_size: usize,
    /// `synchronous_commit` stays on (the server's default) when true; off when the
    /// operator chose speed over durability (`--no-fsync`).
    pub durable: bool,
    /// How long a transaction waits for a connection (a database failover included)
    /// before it fails.
    pub wait: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            durable: true,
            wait: Duration::from_secs(30),
        }
    }
}

const SCHEMA: &str = r#"CREATE TABLE IF NOT EXISTS ferrite_kv (
    tbl text COLLATE "C" NOT NULL,
    k bytea NOT NULL,
    v bytea NOT NULL,
    PRIMARY KEY (tbl, k)
)"#;

const GET: &str = "SELECT v FROM ferrite_kv WHERE tbl = $1 AND k = $2";

/// Rows a scan fetches first; each further page is four times larger, up to
/// [`PAGE_MAX`], so a short scan costs one small query and a long one few queries.
const PAGE_FIRST: i64 = 64;
const PAGE_MAX: i64 = 4096;

pub struct PgMetaStore {
    pool: Pool,
    /// Drives the connections; shut down in the background on drop (a runtime may not
    /// be dropped in place inside another's async context).
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PgMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgMetaStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

fn engine(e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(e.to_string())
}

/// Whether `e` means PostgreSQL rolled the transaction back so that running it again
/// is safe and may succeed.
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(c) => {
            *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                // A concurrent insert of the same key can surface as this before the
                // serialization check does.
                || *c == SqlState::UNIQUE_VIOLATION
                // The primary stepped down or shut down mid-transaction (failover).
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::READ_ONLY_SQL_TRANSACTION
        }
        // No SQLSTATE: the connection failed. Before the commit, nothing committed.
        None => is_lost(e),
    }
}

/// Whether the connection itself failed (closed, or an I/O error on its socket).
fn is_lost(e: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    e.is_closed() || e.source().is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
}

/// Whether a connection that returned `e` must not be used again: lost, or no longer
/// talking to a primary (a failover demoted its server, or it is shutting down).
fn poisons(e: &tokio_postgres::Error) -> bool {
    is_lost(e)
        || e.code()
            .is_some_and(|c| *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::READ_ONLY_SQL_TRANSACTION)
}

/// A statement's error, inside a transaction whose commit has not been sent.
fn stmt_error(e: &tokio_postgres::Error) -> StoreError {
    if is_conflict(e) {
        StoreError::Conflict
    } else {
        engine(describe(e))
    }
}

/// A copy of `e` (`StoreError` is not `Clone`): a conflict stays a conflict.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict => StoreError::Conflict,
        other => engine(format!("an earlier statement of this transaction failed: {other}")),
    }
}

/// `e` with what PostgreSQL said (tokio-postgres's own text is only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match (e.as_db_error(), e.source()) {
        (Some(db), _) => format!("PostgreSQL {} {}: {}", db.severity(), db.code().code(), db.message()),
        (None, Some(src)) => format!("{e}: {src}"),
        (None, None) => e.to_string(),
    }
}

/// Takes out of a libpq-style URL (or key=value string) what tokio-postgres does not
/// know: `sslrootcert=FILE` (returned) and `sslmode=verify-full` (given on as
/// `require`: every TLS connection checks the certificate and the host name). Refuses
/// what would be half-done here: `verify-ca` (the name is always checked) and an
/// explicit `prefer` (TLS without a fallback to plain is `require`).
fn tls_params(url: &str) -> StoreResult<(String, Option<std::path::PathBuf>)> {
    /// What becomes of one parameter.
    enum Keep {
        Drop,
        AsIs,
        Now(&'static str),
    }
    let mut root_cert = None;
    let mut keep = |key: &str, value: &str| -> StoreResult<Keep> {
        match (key, value) {
            ("sslrootcert", v) => {
                root_cert = Some(std::path::PathBuf::from(v));
                Ok(Keep::Drop)
            }
            ("sslmode", "verify-full") => Ok(Keep::Now("require")),
            ("sslmode", "verify-ca") => Err(engine(
                "sslmode=verify-ca is not supported: use verify-full (or require, the same here: \
                 the server's certificate and name are always checked)",
            )),
            ("sslmode", "prefer") => Err(engine(
                "sslmode=prefer is not supported: use require (TLS, the server's certificate \
                 and name checked) or disable",
            )),
            _ => Ok(Keep::AsIs),
        }
    };
    let url_form = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let (base, params, sep) = match url.split_once('?') {
        Some((base, query)) if url_form => (base, query.split('&').collect::<Vec<_>>(), "&"),
        _ if url_form => (url, Vec::new(), "&"),
        _ => ("", url.split_whitespace().collect(), " "),
    };
    let mut kept = Vec::new();
    for param in params.into_iter().filter(|p| !p.is_empty()) {
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        let v = if url_form { percent_decode(v) } else { v.to_string() };
        match keep(k, &v)? {
            Keep::Drop => {}
            Keep::AsIs => kept.push(param.to_string()),
            Keep::Now(v) => kept.push(format!("{k}={v}")),
        }
    }
    let out = match (url_form, kept.is_empty()) {
        (true, true) => base.to_string(),
        (true, false) => format!("{base}?{}", kept.join(sep)),
        (false, _) => kept.join(sep),
    };
    Ok((out, root_cert))
}

/// `%XX` escapes of a URL's query value decoded (invalid ones kept as they are).
fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rustls configuration of TLS connections: the roots are `root_cert`'s
/// certificates (PEM) when given, else the system's.
fn tls_config(root_cert: Option<&std::path::Path>) -> StoreResult<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| engine(format!("sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| engine(format!("sslrootcert {}: {e}", path.display())))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(engine(
            "TLS to PostgreSQL: no trusted root certificate (give sslrootcert=FILE in the URL)",
        ));
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| engine(format!("TLS to PostgreSQL: {e}")))
}

impl PgMetaStore {
    /// Connects to `url` (a libpq-style URL or key=value string; several hosts and
    /// `target_session_attrs=read-write` pick the primary) and creates the schema if
    /// it is missing.
    pub fn connect(url: &str, opts: PgOptions) -> StoreResult<Self> {
        let (url, root_cert) = tls_params(url)?;
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Engine(format!("the PostgreSQL URL does not parse: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("ferrite");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if !opts.durable {
            config.options("-c synchronous_commit=off");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ferrite-pg")
            .enable_all()
            .build()
            .map_err(StoreError::Io)?;
        let manager_config = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match config.get_ssl_mode() {
            // TLS only when asked for, and then always with the server's certificate
            // and name checked (an explicit `prefer` is refused by `tls_params`).
            SslMode::Require => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(root_cert.as_deref())?);
                Manager::from_config(config, tls, manager_config())
            }
            _ => Manager::from_config(config, NoTls, manager_config()),
        };
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(opts.wait))
            .create_timeout(Some(opts.wait))
            .build()
            .map_err(engine)?;
        let store = Self {
            pool,
            runtime: Some(runtime),
        };
        store.create_schema()?;
        Ok(store)
    }

    /// Runs `fut` to completion on the calling thread, with the store's runtime as the
    /// context its connections are spawned on.
    fn block<F: std::future::Future>(&self, fut: F) -> F::Output {
        let _ctx = self.runtime.as_ref().expect("live until drop").enter();
        futures::executor::block_on(fut)
    }

    fn client(&self) -> StoreResult<Object> {
        self.block(self.pool.get()).map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => engine(format!("connecting to PostgreSQL: {}", describe(&e))),
            e => engine(format!("no PostgreSQL connection: {e}")),
        })
    }

    fn create_schema(&self) -> StoreResult<()> {
        let client = self.client()?;
        // Gateways starting together may race to create the table: the loser's
        // CREATE fails (on the catalog's unique index, or finding the table's type
        // made), and the table is there once the winner commits.
        const RACE_LOST: [SqlState; 3] = [
            SqlState::UNIQUE_VIOLATION,
            SqlState::DUPLICATE_OBJECT,
            SqlState::DUPLICATE_TABLE,
        ];
        for attempt in 0..5 {
            match self.block(client.batch_execute(SCHEMA)) {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 4 && e.code().is_some_and(|c| RACE_LOST.contains(c)) => continue,
                Err(e) => return Err(engine(format!("creating the metadata table: {}", describe(&e)))),
            }
        }
        Ok(())
    }
}

impl Drop for PgMetaStore {
    fn drop(&mut self) {
        self.pool.close();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// How a transaction on a pooled connection ends when it is dropped.
fn finish_in_background(store: &PgMetaStore, client: Object, sql: &'static str, poisoned: bool) {
    if poisoned {
        // Not reused: dropped apart from the pool.
        let _ = Object::take(client);
        return;
    }
    // The caller does not wait for the round trip: the connection goes back to the
    // pool once its transaction has ended (or is dropped if that fails).
    let rt = store.runtime.as_ref().expect("live until drop");
    rt.spawn(async move {
        if client.batch_execute(sql).await.is_err() {
            let _ = Object::take(client);
        }
    });
}

type CacheKey = (&'static str, Vec<u8>);

/// One transaction on one pooled connection.
///
/// Round trips are what a networked store costs, so a transaction saves them where
/// the semantics allow:
/// - every value read or written is remembered for the rest of the transaction (a
///   serializable transaction reads its own snapshot plus its own writes, so a key
///   read twice reads the same): a group commit's jobs that read the same bucket
///   record read it from the database once;
/// - writes are buffered and sent together (one multi-row statement per kind), before
///   a scan (which must see them) or with the commit;
/// - a write transaction's `BEGIN` goes with its first statement, and the commit
///   with the buffered writes: a transaction that only writes is one round trip.
struct PgTxn<'a> {
    store: &'a PgMetaStore,
    client: Option<Object>,
    /// Whether this is a write transaction (`BEGIN` not sent yet until `begun`).
    write: bool,
    begun: Cell<bool>,
    /// Whether the transaction ended (committed, or its connection was dropped).
    done: bool,
    /// Whether a statement failed in a way that rules the connection out for reuse.
    poisoned: Cell<bool>,
    /// The first statement of this transaction that failed, if one did. PostgreSQL
    /// then aborted the transaction, and a later COMMIT is answered as a ROLLBACK,
    /// without an error: a commit must fail with this instead (whatever the caller
    /// made of the statement's error), or it would report as durable what was
    /// rolled back.
    failed: RefCell<Option<StoreError>>,
    /// What each key read or written in this transaction holds (`None`: absent).
    known: RefCell<HashMap<CacheKey, Option<Vec<u8>>>>,
    /// Writes not sent yet: a value to upsert, or `None` to delete. One per key.
    pending: RefCell<HashMap<CacheKey, Option<Vec<u8>>>>,
}

const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const UPSERT_MANY: &str = "INSERT INTO ferrite_kv (tbl, k, v) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
     ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v";
const DELETE_MANY: &str = "DELETE FROM ferrite_kv WHERE (tbl, k) IN (SELECT * FROM unnest($1::text[], $2::bytea[]))";

impl<'a> PgTxn<'a> {
    fn new(store: &'a PgMetaStore, client: Object, write: bool) -> Self {
        Self {
            store,
            client: Some(client),
            write,
            begun: Cell::new(!write),
            done: false,
            poisoned: Cell::new(false),
            failed: RefCell::new(None),
            known: Default::default(),
            pending: Default::default(),
        }
    }

    fn client(&self) -> &Object {
        self.client.as_ref().expect("live until drop")
    }

    /// Maps a statement's error, noting whether it ruled the connection out.
    fn fail(&self, e: tokio_postgres::Error) -> StoreError {
        if poisons(&e) {
            self.poisoned.set(true);
        }
        let err = stmt_error(&e);
        self.failed.borrow_mut().get_or_insert_with(|| same_error(&err));
        err
    }

    /// The error of an earlier failed statement, if any: PostgreSQL ignores every
    /// statement of an aborted transaction, so none is sent again.
    fn check_alive(&self) -> StoreResult<()> {
        match &*self.failed.borrow() {
            Some(StoreError::Conflict) => Err(StoreError::Conflict),
            Some(StoreError::Engine(m)) => Err(StoreError::Engine(m.clone())),
            Some(e) => Err(engine(e)),
            None => Ok(()),
        }
    }

    fn statement(&self, sql: &str) -> StoreResult<Statement> {
        self.check_alive()?;
        self.store
            .block(self.client().prepare_cached(sql))
            .map_err(|e| self.fail(e))
    }

    /// Runs `fut` (one statement), preceded in the same round trip by `BEGIN` when
    /// the write transaction has not begun yet.
    fn run<T>(&self, fut: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>) -> StoreResult<T> {
        self.check_alive()?;
        if self.begun.get() {
            return self.store.block(fut).map_err(|e| self.fail(e));
        }
        let client = self.client();
        let (began, out) = self
            .store
            .block(async { futures::join!(client.batch_execute(BEGIN_WRITE), fut) });
        began.map_err(|e| self.fail(e))?;
        self.begun.set(true);
        out.map_err(|e| self.fail(e))
    }

    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let ck = (table.name(), key.to_vec());
        if let Some(v) = self.known.borrow().get(&ck) {
            return Ok(v.clone());
        }
        let stmt = self.statement(GET)?;
        let row = self.run(self.client().query_opt(&stmt, &[&table.name(), &key]))?;
        let v = row.map(|r| r.get::<_, Vec<u8>>(0));
        self.known.borrow_mut().insert(ck, v.clone());
        Ok(v)
    }

    /// Sends the buffered writes (a scan must see them).
    fn flush(&self) -> StoreResult<()> {
        if self.pending.borrow().is_empty() {
            return Ok(());
        }
        let (upsert, delete) = (self.statement(UPSERT_MANY)?, self.statement(DELETE_MANY)?);
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        let batch = Batch::of(&pending);
        let client = self.client();
        let (del, up) = self.run(async {
            Ok(futures::join!(
                batch.delete(client, &delete),
                batch.upsert(client, &upsert)
            ))
        })?;
        del.map_err(|e| self.fail(e))?;
        up.map_err(|e| self.fail(e))?;
        Ok(())
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        self.flush()?;
        let (mut lo_op, mut lo): (&str, Vec<u8>) = match start {
            Bound::Included(k) => (">=", k.to_vec()),
            Bound::Excluded(k) => (">", k.to_vec()),
            Bound::Unbounded => (">=", Vec::new()),
        };
        let (hi_op, hi): (Option<&str>, &[u8]) = match end {
            Bound::Included(k) => (Some("<="), k),
            Bound::Excluded(k) => (Some("<"), k),
            Bound::Unbounded => (None, b""),
        };
        let mut page = PAGE_FIRST;
        loop {
            let sql = match hi_op {
                Some(hi_op) => format!(
                    "SELECT k, v FROM ferrite_kv WHERE tbl = $1 AND k {lo_op} $2 AND k {hi_op} $3 ORDER BY k LIMIT $4"
                ),
                None => format!("SELECT k, v FROM ferrite_kv WHERE tbl = $1 AND k {lo_op} $2 ORDER BY k LIMIT $3"),
            };
            let stmt = self.statement(&sql)?;
            let name = table.name();
            let params: Vec<&(dyn ToSql + Sync)> = match hi_op {
                Some(_) => vec![&name, &lo, &hi, &page],
                None => vec![&name, &lo, &page],
            };
            let rows = self.run(self.client().query(&stmt, &params))?;
            let full = rows.len() as i64 == page;
            for row in &rows {
                if !visit(row.get::<_, &[u8]>(0), row.get::<_, &[u8]>(1)) {
                    return Ok(());
                }
            }
            match rows.last() {
                Some(last) if full => {
                    lo = last.get::<_, Vec<u8>>(0);
                    lo_op = ">";
                    page = (page * 4).min(PAGE_MAX);
                }
                _ => return Ok(()),
            }
        }
    }
}

/// Buffered writes as the arrays of the two multi-row statements.
struct Batch<'p> {
    up_tbl: Vec<&'static str>,
    up_k: Vec<&'p [u8]>,
    up_v: Vec<&'p [u8]>,
    del_tbl: Vec<&'static str>,
    del_k: Vec<&'p [u8]>,
}

impl<'p> Batch<'p> {
    fn of(pending: &'p HashMap<CacheKey, Option<Vec<u8>>>) -> Self {
        let mut b = Batch {
            up_tbl: Vec::new(),
            up_k: Vec::new(),
            up_v: Vec::new(),
            del_tbl: Vec::new(),
            del_k: Vec::new(),
        };
        for ((t, k), v) in pending {
            match v {
                Some(v) => {
                    b.up_tbl.push(t);
                    b.up_k.push(k);
                    b.up_v.push(v);
                }
                None => {
                    b.del_tbl.push(t);
                    b.del_k.push(k);
                }
            }
        }
        b
    }

    async fn delete(&self, client: &Object, stmt: &Statement) -> Result<u64, tokio_postgres::Error> {
        if self.del_k.is_empty() {
            return Ok(0);
        }
        client.execute(stmt, &[&self.del_tbl, &self.del_k]).await
    }

    async fn upsert(&self, client: &Object, stmt: &Statement) -> Result<u64, tokio_postgres::Error> {
        if self.up_k.is_empty() {
            return Ok(0);
        }
        client.execute(stmt, &[&self.up_tbl, &self.up_k, &self.up_v]).await
    }
}

impl ReadTxn for PgTxn<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        PgTxn::get(self, table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        PgTxn::scan(self, table, start, end, visit)
    }
}

/// A write transaction: a [`PgTxn`] that rolls back unless committed.
struct PgWrite<'a>(PgTxn<'a>);

impl ReadTxn for PgWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.0.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        self.0.scan(table, start, end, visit)
    }
}

impl WriteTxn for PgWrite<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()> {
        let ck = (table.name(), key.to_vec());
        self.0.known.get_mut().insert(ck.clone(), Some(value.to_vec()));
        self.0.pending.get_mut().insert(ck, Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool> {
        let ck = (table.name(), key.to_vec());
        // Whether the key is there, from what this transaction knows or one read.
        let present = match self.0.known.get_mut().get(&ck) {
            Some(v) => v.is_some(),
            None => self.0.get(table, key)?.is_some(),
        };
        if present {
            self.0.known.get_mut().insert(ck.clone(), None);
            self.0.pending.get_mut().insert(ck, None);
        }
        Ok(present)
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        let txn = &mut self.0;
        if let Some(e) = txn.failed.get_mut().take() {
            // Dropped: Drop rolls back (or discards a poisoned connection).
            return Err(e);
        }
        if !txn.begun.get() && txn.pending.get_mut().is_empty() {
            // Nothing was read or written: there is no transaction to commit.
            txn.done = true;
            return Ok(());
        }
        // (A failure here leaves the transaction to Drop, which rolls it back.)
        let (upsert, delete) = (txn.statement(UPSERT_MANY)?, txn.statement(DELETE_MANY)?);
        txn.done = true;
        let client = txn.client.take().expect("live until commit");
        let pending = std::mem::take(txn.pending.get_mut());
        let batch = Batch::of(&pending);
        let begun = txn.begun.get();
        // BEGIN (if not yet), the buffered writes and COMMIT in one round trip; the
        // answers are read in order, and the first error is the transaction's.
        let (began, del, up, committed) = txn.store.block(async {
            futures::join!(
                async {
                    match begun {
                        true => Ok(()),
                        false => client.batch_execute(BEGIN_WRITE).await,
                    }
                },
                batch.delete(&client, &delete),
                batch.upsert(&client, &upsert),
                client.batch_execute("COMMIT"),
            )
        });
        drop(batch);
        let before = began.and(del.map(drop)).and(up.map(drop));
        match (before, committed) {
            // An error before COMMIT: PostgreSQL answered it (nothing is committed:
            // COMMIT of a failed transaction rolls back) or the connection is gone
            // (then the COMMIT cannot have reached it either).
            (Err(e), _) => {
                if poisons(&e) {
                    let _ = Object::take(client);
                }
                Err(stmt_error(&e))
            }
            (Ok(()), Ok(())) => Ok(()),
            // PostgreSQL answered the COMMIT: it rolled the transaction back.
            (Ok(()), Err(e)) if e.code().is_some() => {
                if poisons(&e) {
                    let _ = Object::take(client);
                }
                Err(stmt_error(&e))
            }
            // The connection failed with the commit in flight: it may have committed.
            (Ok(()), Err(e)) => {
                let _ = Object::take(client);
                Err(StoreError::Engine(format!(
                    "the connection to PostgreSQL failed during a commit, whose outcome is unknown: {}",
                    describe(&e)
                )))
            }
        }
    }
}

impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            if let Some(client) = self.client.take() {
                let sql = if self.write { "ROLLBACK" } else { "COMMIT" };
                if self.begun.get() {
                    finish_in_background(self.store, client, sql, self.poisoned.get());
                } else if self.poisoned.get() {
                    let _ = Object::take(client);
                }
            }
        }
    }
}

impl MetaStore for PgMetaStore {
    fn begin_read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        let client = self.client()?;
        // The snapshot is taken at the first statement: send one with BEGIN, in the same
        // round trip, so that the snapshot is as of now.
        if let Err(e) = self.block(client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1")) {
            if poisons(&e) {
                let _ = Object::take(client);
            }
            return Err(stmt_error(&e));
        }
        Ok(Box::new(PgTxn::new(self, client, false)))
    }

    fn begin_write(&self) -> StoreResult<Box<dyn WriteTxn + '_>> {
        // BEGIN goes with the first statement (see `PgTxn::run`).
        let client = self.client()?;
        Ok(Box::new(PgWrite(PgTxn::new(self, client, true))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg_testing::TestPostgres;

    #[test]
    fn conformance() {
        let Some(pg) = TestPostgres::start() else { return };
        let store = PgMetaStore::connect(&pg.database(), PgOptions::default()).unwrap();
        crate::conformance::meta_store_suite(&store);
        let retries = crate::conformance::meta_store_concurrency(&store);
        // Serializable transactions on one key do conflict: the retry loop was used.
        eprintln!("concurrency: {retries} retried transactions");
    }

    #[test]
    fn reopen_keeps_committed_data() {
        let Some(pg) = TestPostgres::start() else { return };
        let url = pg.database();
        crate::conformance::meta_store_persistence(|| PgMetaStore::connect(&url, PgOptions::default()).unwrap());
    }

    /// Two stores on one database are two gateways: each sees what the other commits,
    /// and their conflicting writes are serialized (one is told to run again).
    #[test]
    fn two_gateways_share_one_database() {
        let Some(pg) = TestPostgres::start() else { return };
        let url = pg.database();
        let a = PgMetaStore::connect(&url, PgOptions::default()).unwrap();
        let b = PgMetaStore::connect(&url, PgOptions::default()).unwrap();
        const T: Table = Table::new("gateways");
        let mut w = a.begin_write().unwrap();
        w.put(T, b"k", b"from a").unwrap();
        w.commit().unwrap();
        assert_eq!(
            b.begin_read().unwrap().get(T, b"k").unwrap().as_deref(),
            Some(&b"from a"[..])
        );
        // Both read k, both write it: serializable lets only one commit.
        let mut wa = a.begin_write().unwrap();
        let mut wb = b.begin_write().unwrap();
        wa.get(T, b"k").unwrap();
        wb.get(T, b"k").unwrap();
        wa.put(T, b"k", b"a2").unwrap();
        let first = wa.commit();
        let second = wb.put(T, b"k", b"b2").and_then(|()| wb.commit());
        assert!(first.is_ok(), "{first:?}");
        assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
        assert_eq!(
            b.begin_read().unwrap().get(T, b"k").unwrap().as_deref(),
            Some(&b"a2"[..])
        );
    }

    /// A test CA (its PEM) and a server certificate and key it signed for 127.0.0.1.
    fn test_ca(name: &str) -> (String, String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca_pem = params.self_signed(&key).unwrap().pem();
        let issuer = rcgen::Issuer::new(params, key);
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        (ca_pem, server.pem(), server_key.serialize_pem())
    }

    /// TLS to the database: `sslmode=verify-full` with `sslrootcert` connects, and the
    /// server sees the store's connections encrypted; a server certificate from another
    /// CA is refused, as is a server without TLS when TLS is required; `verify-ca` and
    /// an explicit `prefer` are refused at once (they would be half-done here).
    #[test]
    fn tls_to_the_database() {
        let (ca, cert, key) = test_ca("ferrite test CA");
        let Some(pg) = TestPostgres::start_tls(&cert, &key) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (ca_file, other_file) = (dir.path().join("ca.pem"), dir.path().join("other.pem"));
        std::fs::write(&ca_file, &ca).unwrap();
        std::fs::write(&other_file, test_ca("another CA").0).unwrap();
        let db = pg.database();
        let with = |params: &str| format!("{db}?{params}");

        let url = with(&format!(
            "sslmode=verify-full&sslrootcert={}&application_name=ferrite-tls",
            ca_file.display()
        ));
        let store = PgMetaStore::connect(&url, PgOptions::default()).unwrap();
        const T: Table = Table::new("tls");
        let mut w = store.begin_write().unwrap();
        w.put(T, b"k", b"over TLS").unwrap();
        w.commit().unwrap();
        assert_eq!(
            store.begin_read().unwrap().get(T, b"k").unwrap().as_deref(),
            Some(&b"over TLS"[..])
        );
        let count = |ssl: bool| {
            pg.psql_value(&format!(
                "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                 WHERE application_name = 'ferrite-tls' AND ssl = {ssl}"
            ))
        };
        assert_ne!(count(true), "0", "the store's connections are encrypted");
        assert_eq!(count(false), "0", "and none is plain");
        drop(store);

        let refused = |url: String| match PgMetaStore::connect(&url, PgOptions::default()) {
            Ok(_) => panic!("{url} connected"),
            Err(e) => e.to_string(),
        };
        let e = refused(with(&format!("sslmode=require&sslrootcert={}", other_file.display())));
        assert!(e.contains("certificate"), "another CA's server: {e}");
        let e = refused(with(&format!("sslmode=verify-ca&sslrootcert={}", ca_file.display())));
        assert!(e.contains("verify-ca is not supported"), "{e}");
        let e = refused(with("sslmode=prefer"));
        assert!(e.contains("prefer is not supported"), "{e}");

        let Some(plain) = TestPostgres::start_own() else { return };
        let e = refused(format!(
            "{}?sslmode=require&sslrootcert={}",
            plain.database(),
            ca_file.display()
        ));
        assert!(
            e.contains("TLS") || e.contains("SSL") || e.contains("ssl"),
            "a server without TLS: {e}"
        );
    }

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (url, root) = tls_params(
            "postgres://u@h1,h2/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u@h1,h2/db?sslmode=require&target_session_attrs=read-write"
        );
        assert_eq!(root.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        let (url, root) =
            tls_params("host=/run/postgresql dbname=ferrite sslrootcert=/ca.pem sslmode=verify-full").unwrap();
        assert_eq!(url, "host=/run/postgresql dbname=ferrite sslmode=require");
        assert_eq!(root.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert_eq!(
            tls_params("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".to_string(), None)
        );
        assert_eq!(
            tls_params("postgres://u@h/db?sslrootcert=/x").unwrap().0,
            "postgres://u@h/db"
        );
    }

    /// Once a statement has failed, PostgreSQL has aborted the transaction and answers
    /// its COMMIT as a ROLLBACK, without an error. The commit must fail, whatever the
    /// caller made of the statement's error: else writes sent before the failure
    /// would be reported durable and be gone.
    #[test]
    fn a_failed_statement_fails_the_commit() {
        let Some(pg) = TestPostgres::start() else { return };
        let store = PgMetaStore::connect(&pg.database(), PgOptions::default()).unwrap();
        const T: Table = Table::new("aborted");
        let mut w = store.begin_write().unwrap();
        w.put(T, b"sent", b"1").unwrap();
        // A scan sends the buffered write: it is in the transaction now.
        assert_eq!(w.range(T, Bound::Unbounded, Bound::Unbounded, 10).unwrap().len(), 1);
        // A key over the B-tree's row size limit (incompressible, so that TOAST cannot
        // shrink it) makes the next flush fail.
        let mut x = 1u32;
        let big: Vec<u8> = (0..16 << 10)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        w.put(T, &big, b"too big").unwrap();
        let flush = w.range(T, Bound::Unbounded, Bound::Unbounded, 10);
        assert!(matches!(flush, Err(StoreError::Engine(_))), "the flush must fail");
        let msg = flush.unwrap_err().to_string();
        assert!(msg.contains("54000"), "PostgreSQL's code and message are kept: {msg}");
        // Later statements of the aborted transaction fail the same way (none is sent).
        let again = w.get(T, b"never read");
        assert!(
            again.as_ref().is_err_and(|e| e.to_string().contains("54000")),
            "{again:?}"
        );
        // The caller ignores those errors and commits: refused.
        let commit = w.commit();
        assert!(commit.is_err(), "a rolled-back transaction reported as committed");
        let r = store.begin_read().unwrap();
        assert_eq!(r.get(T, b"sent").unwrap(), None);
        drop(r);
        // The connection is usable again (its transaction was rolled back).
        let mut w = store.begin_write().unwrap();
        w.put(T, b"after", b"1").unwrap();
        w.commit().unwrap();
        assert_eq!(
            store.begin_read().unwrap().get(T, b"after").unwrap().as_deref(),
            Some(&b"1"[..])
        );
    }

    /// Buffered writes and remembered reads keep a transaction's semantics: it sees
    /// its own writes in gets and scans, deletes report presence wherever the key is
    /// (database, buffer), the last write of a key wins, and nothing is visible to
    /// others before the commit.
    #[test]
    fn buffered_writes_keep_transaction_semantics() {
        let Some(pg) = TestPostgres::start() else { return };
        let store = PgMetaStore::connect(&pg.database(), PgOptions::default()).unwrap();
        const T: Table = Table::new("buffered");
        let mut w = store.begin_write().unwrap();
        w.put(T, b"db", b"1").unwrap();
        w.put(T, b"gone", b"1").unwrap();
        w.commit().unwrap();

        let mut w = store.begin_write().unwrap();
        assert!(w.delete(T, b"db").unwrap(), "present in the database");
        assert!(!w.delete(T, b"db").unwrap(), "deleted in this transaction");
        w.put(T, b"db", b"2").unwrap();
        w.put(T, b"new", b"a").unwrap();
        w.put(T, b"new", b"b").unwrap();
        assert!(w.delete(T, b"gone").unwrap());
        w.put(T, b"tmp", b"x").unwrap();
        assert!(w.delete(T, b"tmp").unwrap(), "present in the buffer");
        assert!(!w.delete(T, b"never").unwrap());
        assert_eq!(w.get(T, b"new").unwrap().as_deref(), Some(&b"b"[..]));
        // Others see none of it yet.
        let r = store.begin_read().unwrap();
        assert_eq!(r.get(T, b"db").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(r.get(T, b"new").unwrap(), None);
        drop(r);
        // A scan sees the buffered writes.
        let seen = w.range(T, Bound::Unbounded, Bound::Unbounded, 10).unwrap();
        assert_eq!(
            seen,
            vec![(b"db".to_vec(), b"2".to_vec()), (b"new".to_vec(), b"b".to_vec())]
        );
        // Writes after a scan are buffered again and still committed.
        w.put(T, b"after", b"scan").unwrap();
        w.commit().unwrap();
        let r = store.begin_read().unwrap();
        let all = r.range(T, Bound::Unbounded, Bound::Unbounded, 10).unwrap();
        assert_eq!(
            all,
            vec![
                (b"after".to_vec(), b"scan".to_vec()),
                (b"db".to_vec(), b"2".to_vec()),
                (b"new".to_vec(), b"b".to_vec())
            ]
        );
        drop(r);
        // A transaction that never touched anything commits as a no-op; one that
        // only read commits too.
        store.begin_write().unwrap().commit().unwrap();
        let w = store.begin_write().unwrap();
        assert!(w.get(T, b"db").unwrap().is_some());
        w.commit().unwrap();
    }

    /// A bad URL and an unreachable server are clear errors, not hangs or panics.
    #[test]
    fn connection_errors_are_clear() {
        let e = PgMetaStore::connect("postgres://nobody@127.0.0.1:notaport/db", PgOptions::default()).unwrap_err();
        assert!(e.to_string().contains("does not parse"), "{e}");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = PgOptions {
            wait: Duration::from_secs(2),
            ..PgOptions::default()
        };
        let e = PgMetaStore::connect(&format!("postgres://nobody@127.0.0.1:{port}/db"), opts).unwrap_err();
        assert!(e.to_string().contains("PostgreSQL"), "{e}");
    }
}
