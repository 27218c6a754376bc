//! The streams of a POST upload: the request body as the form parser reads it (paced
//! and bounded), and the file part as the model reads it (its size checked).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use s3s::S3ErrorCode;

use super::{MAX_UNCONSUMED, READ_BURST, err, form_error};

/// Shared between the body reader and the consumers of the parsed form: bytes read
/// since the form last handed something on.
#[derive(Clone, Default)]
pub(super) struct Pacing {
    unconsumed: Arc<AtomicU64>,
    pub(super) overflowed: Arc<AtomicBool>,
}

impl Pacing {
    pub(super) fn consumed(&self) {
        self.unconsumed.store(0, Ordering::Relaxed);
    }
}

/// The request body as the form parser reads it: at most [`READ_BURST`] bytes per
/// poll (the parser reads whatever is ready in one go), and an error once
/// [`MAX_UNCONSUMED`] bytes were read that the parser could not hand on.
pub(super) struct Paced<S> {
    pub(super) inner: S,
    pub(super) spent: usize,
    pub(super) pacing: Pacing,
}

impl<S, E> Stream for Paced<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.spent >= READ_BURST {
            // Yield: the parser's loop stops here, and the task is polled again.
            self.spent = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.spent += chunk.len();
                let read = self.pacing.unconsumed.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
                if read > MAX_UNCONSUMED {
                    self.pacing.overflowed.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err("form part without an end".into())));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The file part as the model reads it: its size is checked against the policy's
/// range as it streams (past the maximum the upload is abandoned; a file that ends
/// under the minimum ends in an error, so that nothing is stored).
pub(super) struct FileStream {
    pub(super) field: multer::Field<'static>,
    pub(super) received: u64,
    pub(super) range: (u64, u64),
    pub(super) pacing: Pacing,
    pub(super) ended: bool,
}

impl Stream for FileStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.field).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.pacing.consumed();
                self.received += chunk.len() as u64;
                if self.received > self.range.1 {
                    self.ended = true;
                    return Poll::Ready(Some(Err(io::Error::other(err(
                        S3ErrorCode::EntityTooLarge,
                        "Your proposed upload exceeds the maximum allowed size",
                    )))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                let e = form_error(e, &self.pacing);
                Poll::Ready(Some(Err(io::Error::other(e))))
            }
            Poll::Ready(None) => {
                self.ended = true;
                if self.received < self.range.0 {
                    return Poll::Ready(Some(Err(io::Error::other(err(
                        S3ErrorCode::EntityTooSmall,
                        "Your proposed upload is smaller than the minimum allowed size",
                    )))));
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
