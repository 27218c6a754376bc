//! The few librados calls the RADOS blob store makes, loaded at run time.
//!
//! librados is loaded with `dlopen` (libloading) when a RADOS store is opened, not
//! linked: a build with the `rados` feature needs no Ceph package, and a server that
//! never opens a RADOS store never loads it. The C API is librados's stable one
//! (`librados.h`, `librados.so.2`, Debian's `librados2`).
//!
//! Every function here is a thin safe wrapper: it checks its inputs (C strings
//! without NUL bytes, buffer lengths), calls the C function with pointers that live
//! for the call, and turns a negative return into an `io::Error` (librados returns
//! `-errno`).

// The only unsafe code of this crate besides fs_blob's one call: foreign calls into
// librados, each with its SAFETY note.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::io;

type Cluster = *mut c_void;
type IoCtx = *mut c_void;
type ListCtx = *mut c_void;
type WriteOp = *mut c_void;

/// `LIBRADOS_CREATE_EXCLUSIVE` (librados.h): a create fails with `-EEXIST` if the
/// object exists.
const LIBRADOS_CREATE_EXCLUSIVE: c_int = 1;

/// `struct rados_cluster_stat_t` (librados.h).
#[repr(C)]
#[derive(Default)]
pub struct ClusterStat {
    pub kb: u64,
    pub kb_used: u64,
    pub kb_avail: u64,
    pub num_objects: u64,
}

/// librados's entry points, resolved once.
struct Api {
    create: unsafe extern "C" fn(*mut Cluster, *const c_char) -> c_int,
    conf_read_file: unsafe extern "C" fn(Cluster, *const c_char) -> c_int,
    connect: unsafe extern "C" fn(Cluster) -> c_int,
    shutdown: unsafe extern "C" fn(Cluster),
    cluster_stat: unsafe extern "C" fn(Cluster, *mut ClusterStat) -> c_int,
    ioctx_create: unsafe extern "C" fn(Cluster, *const c_char, *mut IoCtx) -> c_int,
    ioctx_destroy: unsafe extern "C" fn(IoCtx),
    write_full: unsafe extern "C" fn(IoCtx, *const c_char, *const c_char, usize) -> c_int,
    read: unsafe extern "C" fn(IoCtx, *const c_char, *mut c_char, usize, u64) -> c_int,
    remove: unsafe extern "C" fn(IoCtx, *const c_char) -> c_int,
    getxattr: unsafe extern "C" fn(IoCtx, *const c_char, *const c_char, *mut c_char, usize) -> c_int,
    create_write_op: unsafe extern "C" fn() -> WriteOp,
    release_write_op: unsafe extern "C" fn(WriteOp),
    write_op_create: unsafe extern "C" fn(WriteOp, c_int, *const c_char),
    write_op_write_full: unsafe extern "C" fn(WriteOp, *const c_char, usize),
    write_op_setxattr: unsafe extern "C" fn(WriteOp, *const c_char, *const c_char, usize),
    write_op_operate: unsafe extern "C" fn(WriteOp, IoCtx, *const c_char, *mut libc::time_t, c_int) -> c_int,
    list_open: unsafe extern "C" fn(IoCtx, *mut ListCtx) -> c_int,
    list_next: unsafe extern "C" fn(ListCtx, *mut *const c_char, *mut *const c_char, *mut *const c_char) -> c_int,
    list_close: unsafe extern "C" fn(ListCtx),
    /// Keeps the library mapped while the pointers above are used.
    _lib: libloading::Library,
}

fn api() -> io::Result<&'static Api> {
    static API: std::sync::OnceLock<Result<Api, String>> = std::sync::OnceLock::new();
    API.get_or_init(load).as_ref().map_err(|e| io::Error::other(e.clone()))
}

fn load() -> Result<Api, String> {
    // SAFETY: loading librados runs its initialisers, which only set up the library
    // (no global state of ours is touched); it is Ceph's own client library.
    let lib = unsafe { libloading::Library::new("librados.so.2") }
        .map_err(|e| format!("cannot load librados.so.2 (install Debian's librados2 for RADOS blob stores): {e}"))?;
    macro_rules! sym {
        ($name:literal) => {
            // SAFETY: the symbol is librados's C function of that name, and the field
            // it is stored in has its C signature from librados.h.
            *unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                .map_err(|e| format!("librados has no {}: {e}", $name))?
        };
    }
    Ok(Api {
        create: sym!("rados_create"),
        conf_read_file: sym!("rados_conf_read_file"),
        connect: sym!("rados_connect"),
        shutdown: sym!("rados_shutdown"),
        cluster_stat: sym!("rados_cluster_stat"),
        ioctx_create: sym!("rados_ioctx_create"),
        ioctx_destroy: sym!("rados_ioctx_destroy"),
        write_full: sym!("rados_write_full"),
        read: sym!("rados_read"),
        remove: sym!("rados_remove"),
        getxattr: sym!("rados_getxattr"),
        create_write_op: sym!("rados_create_write_op"),
        release_write_op: sym!("rados_release_write_op"),
        write_op_create: sym!("rados_write_op_create"),
        write_op_write_full: sym!("rados_write_op_write_full"),
        write_op_setxattr: sym!("rados_write_op_setxattr"),
        write_op_operate: sym!("rados_write_op_operate"),
        list_open: sym!("rados_nobjects_list_open"),
        list_next: sym!("rados_nobjects_list_next"),
        list_close: sym!("rados_nobjects_list_close"),
        _lib: lib,
    })
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a RADOS name"))
}

/// `-errno` to an error naming what failed.
fn check(what: &str, r: c_int) -> io::Result<c_int> {
    if r < 0 {
        let e = io::Error::from_raw_os_error(-r);
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(r)
    }
}

/// A connected cluster handle and one pool's I/O context.
pub struct Pool {
    api: &'static Api,
    cluster: Cluster,
    io: IoCtx,
}

// SAFETY: librados handles are thread-safe: one cluster handle and one I/O context
// may be used from many threads at once (librados's documented threading model);
// nothing here keeps per-call state in the struct.
unsafe impl Send for Pool {}
// SAFETY: as above.
unsafe impl Sync for Pool {}

impl Pool {
    /// Connects as `client.<user>` with the settings and keyring `conf` names, and
    /// opens `pool`.
    pub fn connect(conf: &str, user: &str, pool: &str) -> io::Result<Self> {
        let api = api()?;
        let (conf_c, user_c, pool_c) = (cstr(conf)?, cstr(user)?, cstr(pool)?);
        let mut cluster: Cluster = std::ptr::null_mut();
        // SAFETY: `cluster` is a valid out-pointer; `user_c` lives for the call.
        check("rados_create", unsafe { (api.create)(&mut cluster, user_c.as_ptr()) })?;
        let fail = |what: &str, r: c_int| {
            // SAFETY: `cluster` was created above and is shut down once, here.
            unsafe { (api.shutdown)(cluster) };
            check(what, r).map(drop)
        };
        // SAFETY: `cluster` is live; `conf_c` lives for the call.
        let r = unsafe { (api.conf_read_file)(cluster, conf_c.as_ptr()) };
        if r < 0 {
            fail(&format!("reading {conf}"), r)?;
        }
        // SAFETY: `cluster` is live and configured.
        let r = unsafe { (api.connect)(cluster) };
        if r < 0 {
            fail("connecting to the Ceph cluster", r)?;
        }
        let mut io: IoCtx = std::ptr::null_mut();
        // SAFETY: `cluster` is connected; `pool_c` lives for the call; `io` is a valid
        // out-pointer.
        let r = unsafe { (api.ioctx_create)(cluster, pool_c.as_ptr(), &mut io) };
        if r < 0 {
            fail(&format!("opening pool {pool}"), r)?;
        }
        Ok(Self { api, cluster, io })
    }

    /// Writes `data` as the whole of object `oid`, with the xattrs, in one atomic
    /// operation, acknowledged when every OSD of the acting set has it.
    pub fn write_full_with(&self, oid: &str, data: &[u8], xattrs: &[(&str, &[u8])]) -> io::Result<()> {
        let oid_c = cstr(oid)?;
        let names: Vec<CString> = xattrs.iter().map(|(n, _)| cstr(n)).collect::<io::Result<_>>()?;
        // SAFETY: creates an empty operation, released below on every path.
        let op = unsafe { (self.api.create_write_op)() };
        if op.is_null() {
            return Err(io::Error::other("rados_create_write_op failed"));
        }
        // SAFETY: `op` is live; `data`, the names and values outlive the operate call
        // below (librados reads the buffers when the op is operated).
        unsafe {
            (self.api.write_op_write_full)(op, data.as_ptr().cast(), data.len());
            for (name, (_, value)) in names.iter().zip(xattrs) {
                (self.api.write_op_setxattr)(op, name.as_ptr(), value.as_ptr().cast(), value.len());
            }
        }
        // SAFETY: `op` and `self.io` are live; `oid_c` lives for the call; a null
        // mtime lets the OSD stamp the time.
        let r = unsafe { (self.api.write_op_operate)(op, self.io, oid_c.as_ptr(), std::ptr::null_mut(), 0) };
        // SAFETY: released once, after its last use.
        unsafe { (self.api.release_write_op)(op) };
        check(&format!("writing {oid}"), r).map(drop)
    }

    /// Creates object `oid` holding `data`, in one atomic operation, unless it
    /// exists: `false` (and nothing written) if it does.
    pub fn create_exclusive(&self, oid: &str, data: &[u8]) -> io::Result<bool> {
        let oid_c = cstr(oid)?;
        // SAFETY: creates an empty operation, released below on every path.
        let op = unsafe { (self.api.create_write_op)() };
        if op.is_null() {
            return Err(io::Error::other("rados_create_write_op failed"));
        }
        // SAFETY: `op` is live; `data` outlives the operate call below; a null
        // category is librados's default.
        unsafe {
            (self.api.write_op_create)(op, LIBRADOS_CREATE_EXCLUSIVE, std::ptr::null());
            (self.api.write_op_write_full)(op, data.as_ptr().cast(), data.len());
        }
        // SAFETY: `op` and `self.io` are live; `oid_c` lives for the call; a null
        // mtime lets the OSD stamp the time.
        let r = unsafe { (self.api.write_op_operate)(op, self.io, oid_c.as_ptr(), std::ptr::null_mut(), 0) };
        // SAFETY: released once, after its last use.
        unsafe { (self.api.release_write_op)(op) };
        if r == -libc::EEXIST {
            return Ok(false);
        }
        check(&format!("creating {oid}"), r).map(|_| true)
    }

    /// Writes `data` as the whole of object `oid`.
    pub fn write_full(&self, oid: &str, data: &[u8]) -> io::Result<()> {
        let oid_c = cstr(oid)?;
        // SAFETY: `self.io` is live; `oid_c` and `data` live for the call.
        let r = unsafe { (self.api.write_full)(self.io, oid_c.as_ptr(), data.as_ptr().cast(), data.len()) };
        check(&format!("writing {oid}"), r).map(drop)
    }

    /// Reads up to `buf.len()` bytes of `oid` at `offset`; `None` if there is no such
    /// object.
    pub fn read(&self, oid: &str, offset: u64, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let oid_c = cstr(oid)?;
        // librados returns the count as an int.
        let len = buf.len().min(i32::MAX as usize);
        // SAFETY: `self.io` is live; `buf` is writable for `len` bytes for the call.
        let r = unsafe { (self.api.read)(self.io, oid_c.as_ptr(), buf.as_mut_ptr().cast(), len, offset) };
        if r == -libc::ENOENT {
            return Ok(None);
        }
        check(&format!("reading {oid}"), r).map(|n| Some(n as usize))
    }

    /// Removes `oid`; `false` if there was none.
    pub fn remove(&self, oid: &str) -> io::Result<bool> {
        let oid_c = cstr(oid)?;
        // SAFETY: `self.io` is live; `oid_c` lives for the call.
        let r = unsafe { (self.api.remove)(self.io, oid_c.as_ptr()) };
        if r == -libc::ENOENT {
            return Ok(false);
        }
        check(&format!("removing {oid}"), r).map(|_| true)
    }

    /// The value of xattr `name` of `oid` (at most `max` bytes); `None` if the
    /// object or the xattr is missing.
    pub fn getxattr(&self, oid: &str, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        let (oid_c, name_c) = (cstr(oid)?, cstr(name)?);
        let mut buf = vec![0u8; max];
        // SAFETY: `self.io` is live; the names live for the call; `buf` is writable
        // for its length.
        let r = unsafe {
            (self.api.getxattr)(
                self.io,
                oid_c.as_ptr(),
                name_c.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if r == -libc::ENOENT || r == -libc::ENODATA {
            return Ok(None);
        }
        let n = check(&format!("reading xattr {name} of {oid}"), r)? as usize;
        buf.truncate(n);
        Ok(Some(buf))
    }

    /// Calls `f` with the name of every object of the pool (its default namespace).
    pub fn for_each_object(&self, f: &mut dyn FnMut(&str)) -> io::Result<()> {
        let mut ctx: ListCtx = std::ptr::null_mut();
        // SAFETY: `self.io` is live; `ctx` is a valid out-pointer.
        check("listing the pool", unsafe { (self.api.list_open)(self.io, &mut ctx) })?;
        let out = loop {
            let mut entry: *const c_char = std::ptr::null();
            // SAFETY: `ctx` is live; the out-pointers are valid; key and namespace
            // may be null (not wanted).
            let r = unsafe { (self.api.list_next)(ctx, &mut entry, std::ptr::null_mut(), std::ptr::null_mut()) };
            if r == -libc::ENOENT {
                break Ok(());
            }
            if let Err(e) = check("listing the pool", r) {
                break Err(e);
            }
            // SAFETY: on success `entry` points at a NUL-terminated name valid until
            // the next call on `ctx`; it is copied before that.
            let name = unsafe { CStr::from_ptr(entry) }.to_string_lossy().into_owned();
            f(&name);
        };
        // SAFETY: closed once, after its last use.
        unsafe { (self.api.list_close)(ctx) };
        out
    }

    /// The cluster's raw capacity and use.
    pub fn cluster_stat(&self) -> io::Result<ClusterStat> {
        let mut st = ClusterStat::default();
        // SAFETY: `self.cluster` is connected; `st` is a valid out-pointer of the C
        // struct's layout.
        check("rados_cluster_stat", unsafe {
            (self.api.cluster_stat)(self.cluster, &mut st)
        })?;
        Ok(st)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: both handles are live and released once, the context first.
        unsafe {
            (self.api.ioctx_destroy)(self.io);
            (self.api.shutdown)(self.cluster);
        }
    }
}
