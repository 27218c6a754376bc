//! A metadata store on SQLite (feature `sqlite`), kept to compare engines on our
//! workload and to run the shared conformance suite against a second implementation.
//! One table holds every logical table: `(tbl, k) -> v` with `tbl` the table's name,
//! clustered by key.
//!
//! Readers get a snapshot through a deferred transaction on their own connection; writers
//! are serialized by SQLite (`BEGIN IMMEDIATE`). WAL mode, `synchronous=FULL` when durable.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::{MetaStore, ReadTxn, StoreError, StoreResult, Table, WriteTxn};

fn sql(e: rusqlite::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

/// Rows are keyed by the table's name.
fn table_id(t: Table) -> &'static str {
    t.name()
}

pub struct SqliteMetaStore {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    durable: bool,
}

impl SqliteMetaStore {
    pub fn open(path: &Path, durable: bool) -> StoreResult<Self> {
        let conn = Self::connect(path, durable)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS kv (tbl TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL, PRIMARY KEY (tbl, k)) WITHOUT ROWID;")
            .map_err(sql)?;
        Ok(Self {
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
            durable,
        })
    }

    fn connect(path: &Path, durable: bool) -> StoreResult<Connection> {
        let conn = Connection::open(path).map_err(sql)?;
        let sync = if durable { "FULL" } else { "OFF" };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=60000;"
        ))
        .map_err(sql)?;
        Ok(conn)
    }
}

struct SqliteRead<'a> {
    conn: Option<Connection>,
    pool: &'a Mutex<Vec<Connection>>,
}

struct SqliteWrite<'a> {
    conn: MutexGuard<'a, Connection>,
    done: bool,
}

fn get(conn: &Connection, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT v FROM kv WHERE tbl = ?1 AND k = ?2")
        .map_err(sql)?
        .query_row(params![table_id(table), key], |r| r.get(0))
        .optional()
        .map_err(sql)
}

fn scan(
    conn: &Connection,
    table: Table,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> StoreResult<()> {
    let (lo_op, lo): (&str, &[u8]) = match start {
        Bound::Included(k) => (">=", k),
        Bound::Excluded(k) => (">", k),
        Bound::Unbounded => (">=", b""),
    };
    let (hi_op, hi): (&str, Option<&[u8]>) = match end {
        Bound::Included(k) => ("<=", Some(k)),
        Bound::Excluded(k) => ("<", Some(k)),
        Bound::Unbounded => ("<", None),
    };
    let q = match hi {
        Some(_) => format!("SELECT k, v FROM kv WHERE tbl = ?1 AND k {lo_op} ?2 AND k {hi_op} ?3 ORDER BY k"),
        None => format!("SELECT k, v FROM kv WHERE tbl = ?1 AND k {lo_op} ?2 ORDER BY k"),
    };
    let mut stmt = conn.prepare_cached(&q).map_err(sql)?;
    let mut rows = match hi {
        Some(h) => stmt.query(params![table_id(table), lo, h]),
        None => stmt.query(params![table_id(table), lo]),
    }
    .map_err(sql)?;
    while let Some(row) = rows.next().map_err(sql)? {
        let k = row
            .get_ref(0)
            .map_err(sql)?
            .as_blob()
            .map_err(|e| StoreError::Engine(e.to_string()))?;
        let v = row
            .get_ref(1)
            .map_err(sql)?
            .as_blob()
            .map_err(|e| StoreError::Engine(e.to_string()))?;
        if !visit(k, v) {
            break;
        }
    }
    Ok(())
}

impl ReadTxn for SqliteRead<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        get(self.conn.as_ref().expect("live"), table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        scan(self.conn.as_ref().expect("live"), table, start, end, visit)
    }
}

impl Drop for SqliteRead<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && conn.execute_batch("COMMIT").is_ok()
            && let Ok(mut pool) = self.pool.lock()
        {
            pool.push(conn);
        }
    }
}

impl ReadTxn for SqliteWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        get(&self.conn, table, key)
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        scan(&self.conn, table, start, end, visit)
    }
}

impl WriteTxn for SqliteWrite<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO kv (tbl, k, v) VALUES (?1, ?2, ?3)")
            .map_err(sql)?
            .execute(params![table_id(table), key, value])
            .map_err(sql)?;
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM kv WHERE tbl = ?1 AND k = ?2")
            .map_err(sql)?
            .execute(params![table_id(table), key])
            .map_err(sql)?;
        Ok(n > 0)
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.done = true;
        self.conn.execute_batch("COMMIT").map_err(sql)
    }
}

impl Drop for SqliteWrite<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl MetaStore for SqliteMetaStore {
    fn begin_read(&self) -> StoreResult<Box<dyn ReadTxn + '_>> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| StoreError::Engine("reader pool poisoned".into()))?
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => Self::connect(&self.path, self.durable)?,
        };
        // A deferred transaction takes its snapshot at the first read.
        conn.execute_batch("BEGIN DEFERRED").map_err(sql)?;
        conn.query_row("SELECT count(*) FROM kv WHERE 0", [], |_| Ok(()))
            .map_err(sql)?;
        Ok(Box::new(SqliteRead {
            conn: Some(conn),
            pool: &self.readers,
        }))
    }

    fn begin_write(&self) -> StoreResult<Box<dyn WriteTxn + '_>> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Engine("writer poisoned".into()))?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
        Ok(Box::new(SqliteWrite { conn, done: false }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(&dir.path().join("meta.sqlite"), true).unwrap();
        crate::conformance::meta_store_suite(&store);
        crate::conformance::meta_store_concurrency(&store);
    }

    #[test]
    fn reopen_keeps_committed_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.sqlite");
        crate::conformance::meta_store_persistence(|| SqliteMetaStore::open(&path, true).unwrap());
    }
}
