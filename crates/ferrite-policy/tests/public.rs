//! `Policy::is_public`: Amazon S3 User Guide, "The meaning of public" (Blocking public
//! access to your Amazon S3 storage).

use ferrite_policy::{Scope, parse};

/// A one-statement bucket policy on `b`.
fn public(effect: &str, principal: &str, condition: &str) -> bool {
    let condition = if condition.is_empty() {
        String::new()
    } else {
        format!(r#", "Condition": {condition}"#)
    };
    let doc = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "{effect}", {principal}, "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b/*"{condition}}}]}}"#
    );
    parse(&doc, Scope::Bucket("b"))
        .unwrap_or_else(|e| panic!("{e}: {doc}"))
        .is_public()
}

fn allow_all(condition: &str) -> bool {
    public("Allow", r#""Principal": "*""#, condition)
}

#[test]
fn the_documents_public_examples() {
    // "Under these rules, the following example policies are considered public."
    assert!(allow_all(""));
    assert!(allow_all(r#"{"StringLike": {"aws:SourceVpc": "vpc-*"}}"#));
    // "You can make these policies non-public by including any of the condition keys
    // listed previously, using a fixed value."
    assert!(!allow_all(r#"{"StringEquals": {"aws:SourceVpc": "vpc-91237329"}}"#));
}

#[test]
fn wildcard_principals() {
    assert!(public("Allow", r#""Principal": {"AWS": "*"}"#, ""));
    assert!(public(
        "Allow",
        r#""Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]}"#,
        ""
    ));
    // NotPrincipal with Allow grants to everyone not listed.
    assert!(public(
        "Allow",
        r#""NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}"#,
        ""
    ));
    // Fixed principals are not public, in any form.
    assert!(!public(
        "Allow",
        r#""Principal": {"AWS": "arn:aws:iam::111122223333:root"}"#,
        ""
    ));
    assert!(!public("Allow", r#""Principal": {"AWS": "111122223333"}"#, ""));
    assert!(!public(
        "Allow",
        r#""Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"}"#,
        ""
    ));
    assert!(!public(
        "Allow",
        r#""Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#,
        ""
    ));
    // Deny statements never grant anything.
    assert!(!public("Deny", r#""Principal": "*""#, ""));
    assert!(!public("Deny", r#""NotPrincipal": {"AWS": "111122223333"}"#, ""));
}

#[test]
fn pinning_keys_with_fixed_values() {
    for (key, value) in [
        ("aws:SourceArn", "arn:aws:s3:::sourcebucket"),
        ("aws:SourceVpc", "vpc-91237329"),
        ("aws:SourceVpce", "vpce-1a2b3c4d"),
        ("aws:SourceOwner", "111122223333"),
        ("aws:SourceAccount", "111122223333"),
        ("aws:PrincipalOrgID", "o-xxxxxxxxxx"),
        ("aws:PrincipalAccount", "111122223333"),
        ("aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice"),
        (
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            "arn:aws:kms:us-east-1:111122223333:key/k",
        ),
        ("aws:userid", "AIDAEXAMPLE"),
        ("s3:DataAccessPointAccount", "111122223333"),
        (
            "s3:DataAccessPointArn",
            "arn:aws:s3:us-west-2:123456789012:accesspoint/ap",
        ),
    ] {
        assert!(
            !allow_all(&format!(r#"{{"StringEquals": {{"{key}": "{value}"}}}}"#)),
            "{key}"
        );
        assert!(
            !allow_all(&format!(r#"{{"StringEqualsIgnoreCase": {{"{key}": "{value}"}}}}"#)),
            "{key}"
        );
        assert!(
            !allow_all(&format!(r#"{{"StringLike": {{"{key}": ["{value}"]}}}}"#)),
            "{key}"
        );
        assert!(
            !allow_all(&format!(r#"{{"ForAnyValue:StringEquals": {{"{key}": "{value}"}}}}"#)),
            "{key}"
        );
        // A wildcard, a variable, a negated operator, IfExists or ForAllValues (both true
        // when the key is absent) do not pin the key.
        assert!(
            allow_all(&format!(r#"{{"StringLike": {{"{key}": "{value}*"}}}}"#)),
            "{key}"
        );
        assert!(
            allow_all(&format!(r#"{{"StringEquals": {{"{key}": "{value}?"}}}}"#)),
            "{key}"
        );
        assert!(
            allow_all(&format!(r#"{{"StringEquals": {{"{key}": "${{aws:username}}"}}}}"#)),
            "{key}"
        );
        assert!(
            allow_all(&format!(r#"{{"StringNotEquals": {{"{key}": "{value}"}}}}"#)),
            "{key}"
        );
        assert!(
            allow_all(&format!(r#"{{"StringEqualsIfExists": {{"{key}": "{value}"}}}}"#)),
            "{key}"
        );
        assert!(
            allow_all(&format!(r#"{{"ForAllValues:StringEquals": {{"{key}": "{value}"}}}}"#)),
            "{key}"
        );
        // One fixed value among several is not enough: all must be fixed.
        assert!(
            allow_all(&format!(r#"{{"StringLike": {{"{key}": ["{value}", "*"]}}}}"#)),
            "{key}"
        );
    }
    // Keys AWS does not list do not pin, however fixed.
    assert!(allow_all(r#"{"StringEquals": {"aws:username": "alice"}}"#));
    assert!(allow_all(
        r#"{"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}"#
    ));
    assert!(allow_all(r#"{"Bool": {"aws:SecureTransport": "true"}}"#));
    // One pinning condition is enough: conditions AND.
    assert!(!allow_all(
        r#"{"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:SourceAccount": "111122223333"}}"#
    ));
}

#[test]
fn arn_operators_on_arn_keys() {
    assert!(!allow_all(
        r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::sourcebucket"}}"#
    ));
    assert!(allow_all(r#"{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::source*"}}"#));
    assert!(allow_all(
        r#"{"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::sourcebucket"}}"#
    ));
    // "this value can contain a wildcard for the access point name without rendering the
    // policy public, as long as the account id is fixed".
    assert!(!allow_all(
        r#"{"ArnLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:123456789012:accesspoint/*"}}"#
    ));
    assert!(allow_all(
        r#"{"ArnLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:*:accesspoint/*"}}"#
    ));
    assert!(allow_all(r#"{"ArnLike": {"s3:DataAccessPointArn": "*"}}"#));
}

#[test]
fn source_ip_ranges() {
    assert!(!allow_all(r#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#));
    assert!(!allow_all(
        r#"{"IpAddress": {"aws:SourceIp": ["203.0.113.7", "2001:DB8:1234:5678::/64"]}}"#
    ));
    assert!(!allow_all(r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#));
    // Overly broad ranges limit nothing.
    assert!(allow_all(r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#));
    assert!(allow_all(r#"{"IpAddress": {"aws:SourceIp": "128.0.0.0/1"}}"#));
    assert!(allow_all(
        r#"{"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "::/0"]}}"#
    ));
    assert!(allow_all(r#"{"IpAddress": {"aws:SourceIp": "2000::/3"}}"#));
    // Excluding addresses does not limit to a set of addresses.
    assert!(allow_all(r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#));
    assert!(allow_all(
        r#"{"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}}"#
    ));
}

#[test]
fn one_public_statement_makes_the_policy_public() {
    // The document's example: grants to a fixed account, then one to everyone.
    let doc = r#"{"Version": "2012-10-17", "Statement": [
      {"Sid": "Account2", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
       "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
      {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    ]}"#;
    assert!(parse(doc, Scope::Bucket("b")).unwrap().is_public());
    let without_public = doc.replace(r#""Principal": "*""#, r#""Principal": {"AWS": "333333333333"}"#);
    assert!(!parse(&without_public, Scope::Bucket("b")).unwrap().is_public());
}

#[test]
fn identity_policies_are_never_public() {
    let doc = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}"#;
    assert!(!parse(doc, Scope::Identity).unwrap().is_public());
}
