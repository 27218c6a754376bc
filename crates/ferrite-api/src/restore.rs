//! RestoreObject and `x-amz-restore`: archived versions (GLACIER, DEEP_ARCHIVE) made
//! readable for a while. The state and its rules are the model's (`archive.rs`).

use ferrite_model::RestoreStatus;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::convert::{http_date, invalid_argument};
use crate::{FerriteS3, to_s3};

/// A response header that asks the server to answer 202 Accepted instead of 200
/// (s3s has no per-response status for successful operations); removed before the
/// response leaves the server.
pub const ACCEPTED_MARK: &str = "x-ferrite-internal-accepted";

/// `x-amz-restore`: `ongoing-request="true"` while a restore runs, then
/// `ongoing-request="false", expiry-date="<HTTP date>"` while the copy lasts.
pub(crate) fn restore_header(status: Option<RestoreStatus>) -> Option<String> {
    status.map(|s| match s {
        RestoreStatus::Ongoing => "ongoing-request=\"true\"".to_string(),
        RestoreStatus::Ready { expiry_ms } => {
            format!("ongoing-request=\"false\", expiry-date=\"{}\"", http_date(expiry_ms))
        }
    })
}

fn not_yet(what: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NotImplemented,
        format!("{what} is not implemented by this server"),
    )
}

impl FerriteS3 {
    pub(crate) async fn do_restore_object(
        &self,
        req: S3Request<RestoreObjectInput>,
    ) -> S3Result<S3Response<RestoreObjectOutput>> {
        let caller = self.caller(&req);
        let input = req.input;
        let request = input.restore_request.unwrap_or_default();
        // Select queries and restores to another location are other features: refused,
        // never half done.
        if request.type_.is_some() || request.select_parameters.is_some() {
            return Err(not_yet("RestoreObject with a SELECT request"));
        }
        if request.output_location.is_some() {
            return Err(not_yet("RestoreObject with an OutputLocation"));
        }
        // The retrieval tier (Expedited, Standard, Bulk) is accepted: every restore
        // takes the server's restore delay.
        let days = match request.days {
            Some(d) => u32::try_from(d).map_err(|_| invalid_argument("Days must be a positive integer"))?,
            None => {
                return Err(S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema: \
                     a restore of an archived object needs Days",
                ));
            }
        };
        let outcome = self
            .model
            .restore_object(&caller, &input.bucket, &input.key, input.version_id.as_deref(), days)
            .await
            .map_err(to_s3)?;
        let mut resp = S3Response::new(RestoreObjectOutput::default());
        if outcome == ferrite_model::RestoreOutcome::Started {
            // s3s answers every RestoreObject 200; the server turns this mark into
            // AWS's 202 for a restore that started.
            resp.headers.insert(ACCEPTED_MARK, http::HeaderValue::from_static("1"));
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_header_has_aws_shape() {
        assert_eq!(restore_header(None), None);
        assert_eq!(
            restore_header(Some(RestoreStatus::Ongoing)).as_deref(),
            Some("ongoing-request=\"true\"")
        );
        assert_eq!(
            restore_header(Some(RestoreStatus::Ready {
                expiry_ms: 1_356_048_000_000
            }))
            .as_deref(),
            Some("ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"")
        );
    }
}
