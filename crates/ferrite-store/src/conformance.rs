//! The conformance suites every [`MetaStore`] and [`BlobStore`] implementation runs.
//!
//! They panic on the first violation, so an implementation calls them from a `#[test]`.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::{BlobStore, MetaStore, StoreError, Table};

const A: Table = Table::new("conformance_a");
const B: Table = Table::new("conformance_b");
const NEVER: Table = Table::new("conformance_never_written");
const SEQ: Table = Table::new("conformance_seq");

fn put(store: &dyn MetaStore, table: Table, k: &[u8], v: &[u8]) {
    let mut w = store.begin_write().unwrap();
    w.put(table, k, v).unwrap();
    w.commit().unwrap();
}

/// Point reads and writes, deletes, ordered range scans, isolation and atomicity.
pub fn meta_store_suite(store: &dyn MetaStore) {
    // Tables are independent.
    put(store, A, b"k", b"objects");
    put(store, B, b"k", b"buckets");
    let r = store.begin_read().unwrap();
    assert_eq!(r.get(A, b"k").unwrap().as_deref(), Some(&b"objects"[..]));
    assert_eq!(r.get(B, b"k").unwrap().as_deref(), Some(&b"buckets"[..]));
    assert_eq!(r.get(SEQ, b"k").unwrap(), None);
    // A table never written reads as empty, in read and write transactions alike.
    assert_eq!(r.get(NEVER, b"k").unwrap(), None);
    assert!(
        r.range(NEVER, Bound::Unbounded, Bound::Unbounded, 10)
            .unwrap()
            .is_empty()
    );
    drop(r);
    let w = store.begin_write().unwrap();
    assert_eq!(w.get(NEVER, b"k").unwrap(), None);
    drop(w);
    let r = store.begin_read().unwrap();
    drop(r);

    // Overwrite and delete.
    put(store, A, b"k", b"second");
    let mut w = store.begin_write().unwrap();
    assert_eq!(w.get(A, b"k").unwrap().as_deref(), Some(&b"second"[..]));
    assert!(w.delete(A, b"k").unwrap());
    assert!(!w.delete(A, b"k").unwrap());
    assert_eq!(w.get(A, b"k").unwrap(), None, "a transaction sees its own writes");
    w.commit().unwrap();
    assert_eq!(store.begin_read().unwrap().get(A, b"k").unwrap(), None);

    // Range scans follow byte order (including non-ASCII and empty keys) against an oracle.
    let keys: Vec<&[u8]> = vec![
        b"",
        b"a",
        b"a/b",
        b"a/b/c",
        b"a0",
        b"b",
        b"\xc3\xa9",
        b"\xff\x00",
        b"ab",
        b"a\x00",
    ];
    let mut oracle = BTreeMap::new();
    let mut w = store.begin_write().unwrap();
    for (i, k) in keys.iter().enumerate() {
        let v = format!("v{i}").into_bytes();
        w.put(SEQ, k, &v).unwrap();
        oracle.insert(k.to_vec(), v);
    }
    w.commit().unwrap();
    let r = store.begin_read().unwrap();
    let all = r.range(SEQ, Bound::Unbounded, Bound::Unbounded, usize::MAX).unwrap();
    assert_eq!(all, oracle.clone().into_iter().collect::<Vec<_>>());
    type Span<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);
    let bounds: [Span; 4] = [
        (Bound::Included(b"a"), Bound::Excluded(b"b")),
        (Bound::Excluded(b"a"), Bound::Included(b"b")),
        (Bound::Included(b"a/"), Bound::Excluded(b"a0")),
        (Bound::Excluded(b"zzz"), Bound::Unbounded),
    ];
    for (start, end) in bounds {
        let want: Vec<_> = oracle
            .range::<[u8], _>((start, end))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            r.range(SEQ, start, end, usize::MAX).unwrap(),
            want,
            "{start:?}..{end:?}"
        );
        let limited = r.range(SEQ, start, end, 2).unwrap();
        assert_eq!(limited, want.into_iter().take(2).collect::<Vec<_>>());
    }
    assert!(r.range(SEQ, Bound::Unbounded, Bound::Unbounded, 0).unwrap().is_empty());
    // A visitor scan sees entries in order, borrowed, and stops when told.
    let mut visited = Vec::new();
    r.scan(SEQ, Bound::Included(b"a"), Bound::Unbounded, &mut |k, _| {
        visited.push(k.to_vec());
        visited.len() < 3
    })
    .unwrap();
    let from_a = (Bound::Included(&b"a"[..]), Bound::Unbounded);
    let want: Vec<Vec<u8>> = oracle
        .range::<[u8], _>(from_a)
        .take(3)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(visited, want);
    drop(r);

    // A dropped write transaction changes nothing.
    let mut w = store.begin_write().unwrap();
    w.put(SEQ, b"a", b"aborted").unwrap();
    w.delete(SEQ, b"b").unwrap();
    drop(w);
    let r = store.begin_read().unwrap();
    assert_eq!(r.get(SEQ, b"a").unwrap(), oracle.get(&b"a"[..]).cloned());
    assert_eq!(r.get(SEQ, b"b").unwrap(), oracle.get(&b"b"[..]).cloned());
    drop(r);

    // A read transaction is a snapshot: a later commit does not change what it sees.
    let snapshot = store.begin_read().unwrap();
    put(store, SEQ, b"a", b"changed");
    assert_eq!(snapshot.get(SEQ, b"a").unwrap(), oracle.get(&b"a"[..]).cloned());
    drop(snapshot);
    assert_eq!(
        store.begin_read().unwrap().get(SEQ, b"a").unwrap().as_deref(),
        Some(&b"changed"[..])
    );

    // Large values round-trip.
    let big = vec![7u8; 256 * 1024];
    put(store, B, b"big", &big);
    assert_eq!(store.begin_read().unwrap().get(B, b"big").unwrap(), Some(big));
}

/// Many threads each add one to a counter in a read-modify-write transaction, many
/// times, on one key, re-running a transaction that fails with a retryable conflict:
/// the final count is exact (no lost update, no doubled one).
/// Returns how many attempts were retried.
pub fn meta_store_concurrency(store: &dyn MetaStore) -> u64 {
    const THREADS: u64 = 8;
    const EACH: u64 = 200;
    const KEY: &[u8] = b"counter";
    let retries = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..EACH {
                    loop {
                        match increment(store, KEY) {
                            Ok(()) => break,
                            Err(e) if e.is_retryable() => {
                                retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Err(e) => panic!("increment failed: {e}"),
                        }
                    }
                }
            });
        }
    });
    let r = store.begin_read().unwrap();
    let n = u64::from_be_bytes(r.get(SEQ, KEY).unwrap().unwrap().try_into().unwrap());
    let retries = retries.into_inner();
    assert_eq!(n, THREADS * EACH, "every increment counted once ({retries} retries)");
    retries
}

fn increment(store: &dyn MetaStore, key: &[u8]) -> Result<(), StoreError> {
    let mut w = store.begin_write()?;
    let n = match w.get(SEQ, key)? {
        Some(v) => u64::from_be_bytes(v.try_into().map_err(|_| StoreError::Corrupt("counter".into()))?),
        None => 0,
    };
    w.put(SEQ, key, &(n + 1).to_be_bytes())?;
    w.commit()
}

/// Committed data survives closing and reopening the store; uncommitted data does not.
pub fn meta_store_persistence<S: MetaStore>(open: impl Fn() -> S) {
    {
        let store = open();
        put(&store, A, b"durable", b"yes");
        let mut w = store.begin_write().unwrap();
        w.put(A, b"never-committed", b"no").unwrap();
        drop(w);
    }
    let store = open();
    let r = store.begin_read().unwrap();
    assert_eq!(r.get(A, b"durable").unwrap().as_deref(), Some(&b"yes"[..]));
    assert_eq!(r.get(A, b"never-committed").unwrap(), None);
}

/// Claiming a store's pairing, on a store that holds none: of claims racing, one
/// records its id and every claimant (and every later one) is answered that id.
pub fn pairing_suite(store: &dyn BlobStore) {
    assert_eq!(
        store.pairing().unwrap(),
        None,
        "the suite needs a store that holds no pairing"
    );
    let ids: Vec<String> = (0..4).map(|i| format!("pairing-{i}")).collect();
    let answers: Vec<String> = std::thread::scope(|s| {
        let claims: Vec<_> = ids
            .iter()
            .map(|id| s.spawn(|| store.claim_pairing(id).unwrap()))
            .collect();
        claims.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let won = answers[0].clone();
    assert!(ids.contains(&won), "{won:?} is one of the claimed ids");
    assert!(
        answers.iter().all(|a| *a == won),
        "every claimant is answered the one recorded: {answers:?}"
    );
    assert_eq!(store.pairing().unwrap().as_deref(), Some(won.as_str()));
    assert_eq!(
        store.claim_pairing("later").unwrap(),
        won,
        "a later claim changes nothing"
    );
    assert_eq!(store.pairing().unwrap().as_deref(), Some(won.as_str()));
}

/// Write, read at offsets, delete, unfinished writes, listing.
pub fn blob_store_suite(store: &dyn BlobStore) {
    // A store that reports its space reports a sane one.
    if let Some(space) = store.space().unwrap() {
        assert!(space.total > 0 && space.free <= space.total, "{space:?}");
    }
    // Blobs made after `now` never show an earlier time (the orphan sweep relies on it).
    for _ in 0..200 {
        let before = store.now().unwrap();
        let mut w = store.create().unwrap();
        w.write(b"timed").unwrap();
        let id = w.finish().unwrap();
        let mut made = None;
        store
            .for_each(&mut |i, t| {
                if i == id {
                    made = Some(t);
                }
            })
            .unwrap();
        assert!(
            made.expect("the blob is listed") >= before,
            "a blob made after now() shows an earlier time"
        );
        store.delete(id).unwrap();
    }
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = store.create().unwrap();
    for chunk in data.chunks(65_536) {
        w.write(chunk).unwrap();
    }
    let id = w.finish().unwrap();

    let r = store.open(id).unwrap().expect("finished blob exists");
    assert_eq!(r.len(), data.len() as u64);
    let mut buf = vec![0u8; 1000];
    let n = r.read_at(12_345, &mut buf).unwrap();
    assert!(n > 0);
    assert_eq!(&buf[..n], &data[12_345..12_345 + n]);
    assert_eq!(
        r.read_at(data.len() as u64, &mut buf).unwrap(),
        0,
        "reading at the end returns 0"
    );

    let empty = store.create().unwrap().finish().unwrap();
    assert_ne!(empty, id, "every blob gets a new id");
    assert_eq!(store.open(empty).unwrap().unwrap().len(), 0);

    // An unfinished write never becomes a permanent blob.
    let mut w = store.create().unwrap();
    w.write(b"abandoned").unwrap();
    drop(w);
    let mut seen = Vec::new();
    store.for_each(&mut |id, _| seen.push(id)).unwrap();
    seen.sort();
    let mut want = vec![id, empty];
    want.sort();
    assert_eq!(seen, want);

    // Writing many buffers at once (more than one writev takes), mixed with single
    // writes, keeps every byte in order.
    let mut w = store.create().unwrap();
    w.write(&data[..7]).unwrap();
    let pieces: Vec<&[u8]> = data[7..].chunks(97).collect();
    assert!(pieces.len() > 2048);
    w.write_all(&pieces).unwrap();
    w.write_all(&[]).unwrap();
    w.write_all(&[b"", b"tail"]).unwrap();
    let gathered = w.finish().unwrap();
    let r = store.open(gathered).unwrap().unwrap();
    assert_eq!(r.len(), data.len() as u64 + 4);
    let mut back = vec![0u8; data.len() + 4];
    let mut at = 0;
    while at < back.len() {
        let n = r.read_at(at as u64, &mut back[at..]).unwrap();
        assert!(n > 0);
        at += n;
    }
    assert_eq!(&back[..data.len()], &data[..]);
    assert_eq!(&back[data.len()..], b"tail");

    // A scattered read fills its buffers in order (called again after a short read,
    // as readers do), and stops at the end of the blob.
    let mut a = vec![0u8; 70_000];
    let mut b = vec![0u8; 16];
    let mut c = vec![0u8; 5];
    let mut d = vec![0u8; 50];
    let from = data.len() as u64 + 4 - 70_050;
    let mut got = 0;
    loop {
        let mut bufs = [
            std::io::IoSliceMut::new(&mut a),
            std::io::IoSliceMut::new(&mut b),
            std::io::IoSliceMut::new(&mut c),
            std::io::IoSliceMut::new(&mut d),
        ];
        let mut rest = &mut bufs[..];
        std::io::IoSliceMut::advance_slices(&mut rest, got);
        let n = r.read_vectored_at(from + got as u64, rest).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    assert_eq!(got, 70_050, "the read stops at the end of the blob");
    let whole = [&a[..], &b[..], &c[..], &d[..]].concat();
    assert_eq!(&whole[..70_050], &back[from as usize..]);
    assert!(whole[70_050..].iter().all(|&x| x == 0), "nothing past the end");
    store.delete(gathered).unwrap();

    store.delete(id).unwrap();
    assert!(store.open(id).unwrap().is_none());
    store.delete(id).unwrap();
    store.delete(empty).unwrap();
    assert!(store.open(crate::BlobId::random()).unwrap().is_none());
}
