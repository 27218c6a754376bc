//! ACLs and object ownership controls: the ACL operations, and the ACL headers that
//! writes carry (`x-amz-acl`, `x-amz-grant-*`), parsed into the model's [`AclSpec`].

use ferrite_model::{AclSpec, AclView, CannedAcl, Grant, Grantee, Group, ObjectOwnership, Permission};
use s3s::dto::{self, *};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::convert::invalid_argument;
use crate::{FerriteS3, to_s3};

/// The ACL headers of a request, as s3s parsed them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AclHeaders<'a> {
    pub canned: Option<&'a str>,
    pub full_control: Option<&'a str>,
    pub read: Option<&'a str>,
    pub read_acp: Option<&'a str>,
    /// Only buckets have a WRITE permission.
    pub write: Option<&'a str>,
    pub write_acp: Option<&'a str>,
}

/// The [`AclHeaders`] of any s3s input that has them (`write` for bucket inputs).
macro_rules! acl_headers {
    ($input:expr) => {
        $crate::acl::AclHeaders {
            canned: $input.acl.as_ref().map(|a| a.as_str()),
            full_control: $input.grant_full_control.as_deref(),
            read: $input.grant_read.as_deref(),
            read_acp: $input.grant_read_acp.as_deref(),
            write: None,
            write_acp: $input.grant_write_acp.as_deref(),
        }
    };
    ($input:expr, bucket) => {
        $crate::acl::AclHeaders {
            write: $input.grant_write.as_deref(),
            ..$crate::acl::acl_headers!($input)
        }
    };
}
pub(crate) use acl_headers;

/// The [`AclHeaders`] of an object write: s3s's object inputs have no field for
/// `x-amz-grant-write` (AWS documents it for buckets), so it is read as sent; Ceph RGW
/// and this server keep it on objects too rather than drop it unseen.
macro_rules! object_acl_headers {
    ($input:expr, $headers:expr) => {
        $crate::acl::AclHeaders {
            write: $crate::acl::raw_grant_write($headers)?,
            ..$crate::acl::acl_headers!($input)
        }
    };
}
pub(crate) use object_acl_headers;

pub(crate) fn raw_grant_write(headers: &http::HeaderMap) -> S3Result<Option<&str>> {
    headers
        .get("x-amz-grant-write")
        .map(|v| {
            v.to_str()
                .map_err(|_| invalid_argument("x-amz-grant-write is not text"))
        })
        .transpose()
}

fn invalid_request(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, msg.to_string())
}

fn unresolvable_email() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::UnresolvableGrantByEmailAddress,
        "The e-mail address you provided does not match any account on record.",
    )
}

/// The ACL a request's headers state, if any: a canned ACL or the grant headers,
/// never both (as AWS refuses).
pub(crate) fn acl_spec(h: AclHeaders<'_>) -> S3Result<Option<AclSpec>> {
    // Grants are listed in this order (it means nothing; it is RGW's, which Ceph's
    // suite compares against).
    let headers = [
        (h.read, Permission::Read),
        (h.write, Permission::Write),
        (h.read_acp, Permission::ReadAcp),
        (h.write_acp, Permission::WriteAcp),
        (h.full_control, Permission::FullControl),
    ];
    let any_grant = headers.iter().any(|(v, _)| v.is_some());
    match (h.canned, any_grant) {
        (Some(_), true) => Err(invalid_request(
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        (Some(name), false) => CannedAcl::parse(name)
            .map(|c| Some(AclSpec::Canned(c)))
            .ok_or_else(|| invalid_argument(format!("unknown canned ACL {name:?}"))),
        (None, false) => Ok(None),
        (None, true) => {
            let mut grants = Vec::new();
            for (value, permission) in headers {
                if let Some(value) = value {
                    for grantee in parse_grantees(value)? {
                        grants.push(Grant { grantee, permission });
                    }
                }
            }
            Ok(Some(AclSpec::Grants(grants)))
        }
    }
}

/// A grant header's value: `id="..."`, `uri="..."` or `emailAddress="..."` items,
/// separated by commas (quotes optional).
fn parse_grantees(value: &str) -> S3Result<Vec<Grantee>> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((kind, v)) = item.split_once('=') else {
            return Err(invalid_argument(format!("malformed grant {item:?}")));
        };
        let v = v.trim().trim_matches('"');
        match kind.trim().to_ascii_lowercase().as_str() {
            "id" if !v.is_empty() => out.push(Grantee::User(v.to_string())),
            "uri" => out.push(Grantee::Group(
                Group::from_uri(v).ok_or_else(|| invalid_argument(format!("unknown group {v:?}")))?,
            )),
            "emailaddress" => return Err(unresolvable_email()),
            _ => return Err(invalid_argument(format!("malformed grant {item:?}"))),
        }
    }
    Ok(out)
}

fn malformed_acl(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedACLError, msg.to_string())
}

/// An AccessControlPolicy document's grants.
fn policy_spec(policy: &AccessControlPolicy) -> S3Result<AclSpec> {
    let mut grants = Vec::new();
    for g in policy.grants.iter().flatten() {
        let (Some(grantee), Some(permission)) = (&g.grantee, &g.permission) else {
            return Err(malformed_acl("a grant needs a grantee and a permission"));
        };
        let permission = Permission::parse(permission.as_str()).ok_or_else(|| malformed_acl("unknown permission"))?;
        let grantee = match grantee.type_.as_str() {
            dto::Type::CANONICAL_USER => match grantee.id.as_deref() {
                Some(id) if !id.is_empty() => Grantee::User(id.to_string()),
                _ => return Err(malformed_acl("a CanonicalUser grantee needs an ID")),
            },
            dto::Type::GROUP => {
                let uri = grantee.uri.as_deref().unwrap_or_default();
                Grantee::Group(Group::from_uri(uri).ok_or_else(|| invalid_argument("Invalid group uri"))?)
            }
            dto::Type::AMAZON_CUSTOMER_BY_EMAIL => return Err(unresolvable_email()),
            _ => return Err(malformed_acl("unknown grantee type")),
        };
        grants.push(Grant { grantee, permission });
    }
    Ok(AclSpec::Grants(grants))
}

/// What PutBucketAcl and PutObjectAcl ask for: the body or the headers, not both.
fn requested(policy: Option<&AccessControlPolicy>, headers: AclHeaders<'_>) -> S3Result<AclSpec> {
    match (policy, acl_spec(headers)?) {
        (Some(_), Some(_)) => Err(invalid_request(
            "Specifying both an ACL document and ACL headers is not allowed",
        )),
        (Some(p), None) => policy_spec(p),
        (None, Some(spec)) => Ok(spec),
        (None, None) => Err(malformed_acl("no ACL was given")),
    }
}

pub(crate) fn ownership_of(value: &str) -> S3Result<ObjectOwnership> {
    ObjectOwnership::parse(value).ok_or_else(|| invalid_argument(format!("unknown object ownership {value:?}")))
}

impl FerriteS3 {
    fn render_grants(&self, view: &AclView) -> (Option<Owner>, Option<Grants>) {
        // Group grants first, each kind in stored order: grant order means nothing, and
        // this is RGW's, which Ceph's suite compares against.
        let mut ordered: Vec<&Grant> = view.grants.iter().collect();
        ordered.sort_by_key(|g| matches!(g.grantee, Grantee::User(_)));
        let grants = ordered
            .into_iter()
            .map(|g| {
                let grantee = match &g.grantee {
                    Grantee::User(id) => {
                        let owner = self.owner_of(id);
                        dto::Grantee {
                            display_name: owner.display_name,
                            email_address: None,
                            id: Some(id.clone()),
                            type_: dto::Type::from_static(dto::Type::CANONICAL_USER),
                            uri: None,
                        }
                    }
                    Grantee::Group(group) => dto::Grantee {
                        display_name: None,
                        email_address: None,
                        id: None,
                        type_: dto::Type::from_static(dto::Type::GROUP),
                        uri: Some(group.uri().to_string()),
                    },
                };
                dto::Grant {
                    grantee: Some(grantee),
                    permission: Some(dto::Permission::from(g.permission.as_str().to_string())),
                }
            })
            .collect();
        (Some(self.owner_of(&view.owner)), Some(grants))
    }

    pub(crate) async fn do_get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let caller = self.caller(&req);
        let view = self
            .model
            .get_bucket_acl(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        let (owner, grants) = self.render_grants(&view);
        Ok(S3Response::new(GetBucketAclOutput { grants, owner }))
    }

    pub(crate) async fn do_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let spec = requested(input.access_control_policy.as_ref(), acl_headers!(input, bucket))?;
        self.model
            .put_bucket_acl(&caller, &input.bucket, spec)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    pub(crate) async fn do_get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let (view, _) = self
            .model
            .get_object_acl(&caller, &input.bucket, &input.key, input.version_id.as_deref())
            .await
            .map_err(to_s3)?;
        let (owner, grants) = self.render_grants(&view);
        Ok(S3Response::new(GetObjectAclOutput {
            grants,
            owner,
            request_charged: None,
        }))
    }

    pub(crate) async fn do_put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let spec = requested(input.access_control_policy.as_ref(), acl_headers!(input, bucket))?;
        self.model
            .put_object_acl(&caller, &input.bucket, &input.key, input.version_id.as_deref(), spec)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    pub(crate) async fn do_get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let caller = self.caller(&req);
        let ownership = self
            .model
            .bucket_ownership(&caller, &req.input.bucket)
            .await
            .map_err(to_s3)?;
        let controls = OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: dto::ObjectOwnership::from(ownership.as_str().to_string()),
            }],
        };
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(controls),
        }))
    }

    pub(crate) async fn do_put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let caller = self.caller(&req);
        let input = &req.input;
        let [rule] = input.ownership_controls.rules.as_slice() else {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "OwnershipControls must hold exactly one rule",
            ));
        };
        let ownership = ObjectOwnership::parse(rule.object_ownership.as_str())
            .ok_or_else(|| S3Error::with_message(S3ErrorCode::MalformedXML, "unknown ObjectOwnership value"))?;
        self.model
            .set_bucket_ownership(&caller, &input.bucket, Some(ownership))
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
    }

    pub(crate) async fn do_delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        let caller = self.caller(&req);
        self.model
            .set_bucket_ownership(&caller, &req.input.bucket, None)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(DeleteBucketOwnershipControlsOutput::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_headers_parse_as_aws_writes_them() {
        let h = AclHeaders {
            read: Some(r#"id="abc", uri="http://acs.amazonaws.com/groups/global/AllUsers""#),
            write_acp: Some("id=def"),
            ..Default::default()
        };
        let Some(AclSpec::Grants(g)) = acl_spec(h).unwrap() else {
            panic!("grants expected")
        };
        assert_eq!(
            g,
            vec![
                Grant {
                    grantee: Grantee::User("abc".into()),
                    permission: Permission::Read
                },
                Grant {
                    grantee: Grantee::Group(Group::AllUsers),
                    permission: Permission::Read
                },
                Grant {
                    grantee: Grantee::User("def".into()),
                    permission: Permission::WriteAcp
                },
            ]
        );
    }

    #[test]
    fn bad_acl_headers_are_refused_with_aws_codes() {
        let code = |h| acl_spec(h).unwrap_err().code().as_str().to_string();
        let both = AclHeaders {
            canned: Some("private"),
            read: Some("id=a"),
            ..Default::default()
        };
        assert_eq!(code(both), "InvalidRequest");
        let email = AclHeaders {
            read: Some(r#"emailAddress="a@example.com""#),
            ..Default::default()
        };
        assert_eq!(code(email), "UnresolvableGrantByEmailAddress");
        let group = AclHeaders {
            read: Some(r#"uri="http://example.com/nobody""#),
            ..Default::default()
        };
        assert_eq!(code(group), "InvalidArgument");
        let canned = AclHeaders {
            canned: Some("everyone-please"),
            ..Default::default()
        };
        assert_eq!(code(canned), "InvalidArgument");
        assert_eq!(acl_spec(AclHeaders::default()).unwrap(), None);
        assert_eq!(
            acl_spec(AclHeaders {
                canned: Some("public-read"),
                ..Default::default()
            })
            .unwrap(),
            Some(AclSpec::Canned(CannedAcl::PublicRead))
        );
    }
}
