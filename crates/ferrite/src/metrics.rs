//! `GET /metrics`: Prometheus metrics. Requests are counted and timed by S3 operation
//! and HTTP status when their response body is done (sent, or dropped by a client that
//! went away), so a GET's time includes streaming its body. Bytes in and out count
//! request and response body bytes. Per-bucket usage comes from the model's stored
//! counters: one lookup per bucket at scrape time, never a scan of objects. With TLS
//! on, the certificate's expiry, its reloads and failed handshakes are counted too.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ferrite_api::OperationName;
use ferrite_model::Ferrite;
use http_body::{Body as HttpBody, Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency histogram, in seconds: 50 µs to 60 s.
const LATENCY_BUCKETS: [f64; 20] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    20.0, 40.0, 60.0,
];

/// The operation label of requests that fail before s3s resolves their operation.
const UNRESOLVED: &str = "unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabels {
    bucket: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KmsOpLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// The TLS side's metrics, registered only when the server serves HTTPS.
#[derive(Clone, Debug, Default)]
pub struct TlsMetrics {
    reloads: Family<ReloadLabels, Counter>,
    not_after: Gauge,
    handshake_failures: Counter,
}

impl TlsMetrics {
    /// The certificate served from now on.
    pub fn loaded(&self, cert: &crate::tls::CertSummary) {
        self.not_after.set(cert.not_after.map_or(0, |t| t.unix_timestamp()));
    }

    pub fn reloaded(&self, cert: &crate::tls::CertSummary) {
        self.loaded(cert);
        self.reloads.get_or_create(&ReloadLabels { result: "ok" }).inc();
    }

    pub fn reload_failed(&self) {
        self.reloads.get_or_create(&ReloadLabels { result: "error" }).inc();
    }

    /// A connection closed without a finished TLS handshake (timed out, refused by
    /// rustls, or plain HTTP).
    pub fn handshake_failed(&self) {
        self.handshake_failures.inc();
    }

    fn register(&self, registry: &mut Registry) {
        // Both results are shown from the start, at 0.
        for result in ["ok", "error"] {
            let _ = self.reloads.get_or_create(&ReloadLabels { result });
        }
        registry.register(
            "tls_certificate_not_after_seconds",
            "Expiry (notAfter) of the TLS certificate being served, as a Unix time",
            self.not_after.clone(),
        );
        registry.register(
            "tls_certificate_reloads",
            "TLS certificate reloads on SIGHUP, by result (ok, or error: the previous certificate stays)",
            self.reloads.clone(),
        );
        registry.register(
            "tls_handshake_failures",
            "Connections closed before their TLS handshake finished (timed out, refused, or plain HTTP)",
            self.handshake_failures.clone(),
        );
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    bytes_in: Family<OperationLabels, Counter>,
    bytes_out: Family<OperationLabels, Counter>,
    /// Reads of encrypted data that failed authentication (the model counts them).
    tampered: Counter,
    /// KMS operations SSE-KMS made, by operation (`GenerateDataKey`, `Decrypt`).
    kms_ops: Family<KmsOpLabels, Counter>,
    /// The lifecycle worker's work: versions expired, delete markers removed, versions
    /// transitioned, uploads aborted.
    lifecycle: [Counter; 4],
    buckets: [Family<BucketLabels, Gauge>; 5],
    model: Ferrite,
    /// Scrapes rebuild the bucket gauges: one at a time.
    scrape: tokio::sync::Mutex<()>,
}

impl Metrics {
    pub fn new(model: Ferrite, tls: Option<&TlsMetrics>) -> Arc<Self> {
        let mut registry = Registry::with_prefix("ferrite");
        if let Some(tls) = tls {
            tls.register(&mut registry);
        }
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "s3_requests",
            "S3 requests answered, by operation and HTTP status",
            requests.clone(),
        );
        let duration = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "s3_request_duration_seconds",
            "Time from a request's arrival until its response body is sent, by operation and HTTP status",
            duration.clone(),
        );
        let bytes_in = Family::<OperationLabels, Counter>::default();
        registry.register(
            "s3_received_bytes",
            "Request body bytes received, by operation",
            bytes_in.clone(),
        );
        let bytes_out = Family::<OperationLabels, Counter>::default();
        registry.register(
            "s3_sent_bytes",
            "Response body bytes sent, by operation",
            bytes_out.clone(),
        );
        let buckets: [Family<BucketLabels, Gauge>; 5] = Default::default();
        let bucket_help = [
            (
                "bucket_objects",
                "Objects in the bucket: keys whose current version is not a delete marker",
            ),
            ("bucket_object_bytes", "Bytes of the bucket's current object versions"),
            (
                "bucket_versions",
                "Object versions stored in the bucket, current and noncurrent",
            ),
            (
                "bucket_stored_bytes",
                "Bytes of all object versions stored in the bucket",
            ),
            ("bucket_delete_markers", "Delete markers stored in the bucket"),
        ];
        for ((name, help), family) in bucket_help.into_iter().zip(&buckets) {
            registry.register(name, help, family.clone());
        }
        let tampered = Counter::default();
        registry.register(
            "sse_tampered_reads",
            "Reads of encrypted object data that failed authentication (tampered or damaged data; nothing was returned)",
            tampered.clone(),
        );
        let kms_ops = Family::<KmsOpLabels, Counter>::default();
        registry.register(
            "kms_operations",
            "Operations of the built-in KMS made for SSE-KMS objects: GenerateDataKey (a KMS key sealed a new data key or bucket key) and Decrypt (it opened one); S3 Bucket Keys make fewer",
            kms_ops.clone(),
        );
        let lifecycle: [Counter; 4] = Default::default();
        let lifecycle_help = [
            (
                "lifecycle_objects_expired",
                "Object versions the lifecycle worker expired (current versions given a delete marker or removed, noncurrent versions removed)",
            ),
            (
                "lifecycle_delete_markers_removed",
                "Expired delete markers the lifecycle worker removed",
            ),
            (
                "lifecycle_objects_transitioned",
                "Object versions the lifecycle worker moved to another storage class",
            ),
            (
                "lifecycle_uploads_aborted",
                "Incomplete multipart uploads the lifecycle worker aborted",
            ),
        ];
        for ((name, help), counter) in lifecycle_help.into_iter().zip(&lifecycle) {
            registry.register(name, help, counter.clone());
        }
        Arc::new(Self {
            tampered,
            kms_ops,
            lifecycle,
            registry,
            requests,
            duration,
            bytes_in,
            bytes_out,
            buckets,
            model,
            scrape: tokio::sync::Mutex::new(()),
        })
    }

    /// Starts metering one request.
    pub fn meter(self: &Arc<Self>, operation: OperationName) -> RequestMeter {
        RequestMeter {
            metrics: self.clone(),
            operation,
            received: Arc::new(AtomicU64::new(0)),
            start: Instant::now(),
        }
    }

    /// The metrics in Prometheus text format, or with `openmetrics` in OpenMetrics
    /// text format (which adds a final `# EOF`).
    pub async fn render(&self, openmetrics: bool) -> anyhow::Result<String> {
        let usage = self.model.bucket_usage().await?;
        let _one_scrape = self.scrape.lock().await;
        // The model's count only grows; the counter catches up with it.
        let tampered = self.model.tampered_reads();
        self.tampered.inc_by(tampered.saturating_sub(self.tampered.get()));
        let kms = self.model.kms_operations();
        for (operation, value) in [("GenerateDataKey", kms.generate_data_key), ("Decrypt", kms.decrypt)] {
            let counter = self.kms_ops.get_or_create(&KmsOpLabels { operation });
            counter.inc_by(value.saturating_sub(counter.get()));
        }
        let lc = self.model.lifecycle_counts();
        for (counter, value) in
            self.lifecycle
                .iter()
                .zip([lc.expired, lc.markers_removed, lc.transitioned, lc.uploads_aborted])
        {
            counter.inc_by(value.saturating_sub(counter.get()));
        }
        for family in &self.buckets {
            family.clear();
        }
        for (bucket, u) in usage {
            let labels = BucketLabels { bucket };
            let values = [u.objects, u.object_bytes, u.versions, u.version_bytes, u.delete_markers];
            for (family, value) in self.buckets.iter().zip(values) {
                family
                    .get_or_create(&labels)
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            }
        }
        let mut out = String::new();
        if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        } else {
            prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)?;
        }
        Ok(out)
    }
}

/// The admin API's `GET /admin/v1/metrics` reads the same text `/metrics` serves.
#[async_trait::async_trait]
impl ferrite_api::admin::MetricsSource for Metrics {
    async fn prometheus_text(&self) -> Result<String, String> {
        self.render(false).await.map_err(|e| e.to_string())
    }
}

/// One request's measurements, recorded once its response body is done.
pub struct RequestMeter {
    metrics: Arc<Metrics>,
    operation: OperationName,
    received: Arc<AtomicU64>,
    start: Instant,
}

impl RequestMeter {
    /// Wraps the request body so that the bytes read from it are counted.
    pub fn count_received<B>(&self, body: B) -> Metered<B> {
        Metered {
            inner: body,
            bytes: self.received.clone(),
            done: None,
        }
    }

    /// Wraps the response body, counting the bytes sent; the request is recorded when
    /// that body is dropped.
    pub fn finish<B>(self, status: u16, body: B) -> Metered<B> {
        Metered {
            inner: body,
            bytes: Arc::default(),
            done: Some((self, status)),
        }
    }

    fn record(self, status: u16, sent: u64) {
        let m = &self.metrics;
        let operation = self.operation.get().unwrap_or(UNRESOLVED).to_string();
        let op = OperationLabels { operation };
        let received = self.received.load(Ordering::Relaxed);
        if received > 0 {
            m.bytes_in.get_or_create(&op).inc_by(received);
        }
        if sent > 0 {
            m.bytes_out.get_or_create(&op).inc_by(sent);
        }
        let labels = RequestLabels {
            operation: op.operation,
            status,
        };
        m.requests.get_or_create(&labels).inc();
        m.duration
            .get_or_create(&labels)
            .observe(self.start.elapsed().as_secs_f64());
    }
}

/// A body that counts the data bytes passing through it; a response body also records
/// its request when dropped (sent, or abandoned by a client that went away).
pub struct Metered<B> {
    inner: B,
    bytes: Arc<AtomicU64>,
    done: Option<(RequestMeter, u16)>,
}

impl<B> Metered<B> {
    /// A body that is not metered (health checks, the metrics themselves).
    pub fn plain(inner: B) -> Self {
        Self {
            inner,
            bytes: Arc::default(),
            done: None,
        }
    }
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Metered<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Metered<B> {
    fn drop(&mut self) {
        if let Some((meter, status)) = self.done.take() {
            meter.record(status, self.bytes.load(Ordering::Relaxed));
        }
    }
}
