//! A marker the server puts in each request's extensions and the adapter sets when it
//! streams the request body itself (PutObject; later UploadPart). Every other body is
//! read whole by s3s under its XML size limit, so the server can tell an over-limit XML
//! body from anything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Default, Debug)]
pub struct BodyStreamed(Arc<AtomicBool>);

impl BodyStreamed {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
