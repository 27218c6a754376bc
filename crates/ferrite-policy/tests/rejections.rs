//! Documents the parser must refuse, each with the message it must give.

use ferrite_policy::{MAX_POLICY_BYTES, PolicyError, Scope, parse};

const B: &str = "mybucket";

/// A valid bucket statement with `field` replaced (or added) by `value`.
fn statement_with(field: &str, value: &str) -> String {
    let mut fields = vec![
        ("Effect", r#""Allow""#.to_owned()),
        ("Principal", r#""*""#.to_owned()),
        ("Action", r#""s3:GetObject""#.to_owned()),
        ("Resource", r#""arn:aws:s3:::mybucket/*""#.to_owned()),
    ];
    match fields.iter_mut().find(|(f, _)| *f == field) {
        Some(slot) => slot.1 = value.to_owned(),
        None => fields.push((field, value.to_owned())),
    }
    let body: Vec<String> = fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(f, v)| format!(r#""{f}": {v}"#))
        .collect();
    format!(r#"{{"Version": "2012-10-17", "Statement": [{{{}}}]}}"#, body.join(", "))
}

#[track_caller]
fn refused(doc: &str, scope: Scope<'_>, message: &str) {
    match parse(doc, scope) {
        Ok(_) => panic!("accepted, expected {message:?}:\n{doc}"),
        Err(PolicyError::Malformed(m)) => assert!(m.contains(message), "message {m:?} lacks {message:?}\n{doc}"),
        Err(e) => panic!("wrong error {e:?} for\n{doc}"),
    }
}

#[track_caller]
fn bucket_refused(doc: &str, message: &str) {
    refused(doc, Scope::Bucket(B), message);
}

#[test]
fn the_template_itself_is_valid() {
    // Every refusal below differs from this document in the one place it names.
    parse(&statement_with("Sid", r#""ok""#), Scope::Bucket(B)).unwrap();
}

#[test]
fn too_large_before_parsing() {
    let doc = format!("{{{}", " ".repeat(MAX_POLICY_BYTES));
    match parse(&doc, Scope::Identity) {
        Err(PolicyError::TooLarge { size }) => assert_eq!(size, MAX_POLICY_BYTES + 1),
        other => panic!("{other:?}"),
    }
    // Exactly at the limit is parsed (and here refused for its content, not its size).
    let doc = " ".repeat(MAX_POLICY_BYTES);
    assert!(matches!(parse(&doc, Scope::Identity), Err(PolicyError::Malformed(_))));
    // A padded valid policy at the limit is accepted.
    let valid = statement_with("Sid", r#""pad""#);
    let padded = format!("{valid}{}", " ".repeat(MAX_POLICY_BYTES - valid.len()));
    assert!(parse(&padded, Scope::Bucket(B)).is_ok());
    let message = PolicyError::TooLarge { size: 30000 }.to_string();
    assert!(
        message.contains("30000") && message.contains(&MAX_POLICY_BYTES.to_string()),
        "{message}"
    );
}

#[test]
fn not_json() {
    for doc in ["", "{", "not json", r#"{"Statement": [}"#, "{} extra", "\u{feff}{}"] {
        bucket_refused(doc, "This policy contains invalid Json");
    }
    bucket_refused("[]", "first byte must be '{'");
    bucket_refused(r#""Statement""#, "first byte must be '{'");
}

#[test]
fn duplicate_json_keys() {
    // "Individual elements must not contain multiple instances of the same key".
    bucket_refused(
        r#"{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/*"}}"#,
        "duplicate key \"Version\"",
    );
    bucket_refused(
        &statement_with("Effect", r#""Allow", "Effect": "Deny""#),
        "duplicate key \"Effect\"",
    );
    bucket_refused(
        &statement_with(
            "Condition",
            r#"{"StringEquals": {"s3:x-amz-acl": "private"}, "StringEquals": {"aws:SourceAccount": "1"}}"#,
        ),
        "duplicate key \"StringEquals\"",
    );
}

#[test]
fn top_level_fields() {
    bucket_refused(r#"{"Version": "2012-10-17"}"#, "Missing required field Statement");
    bucket_refused(r#"{"Version": "2012-10-17", "Statement": []}"#, "Statement is empty");
    bucket_refused(
        r#"{"Version": "2012-10-17", "Statement": "x"}"#,
        "Statement must be an object or a list",
    );
    bucket_refused(
        r#"{"Version": "2012-10-17", "Statement": ["x"]}"#,
        "A statement must be an object",
    );
    bucket_refused(
        &statement_with("Sid", r#""a""#).replacen(r#"{"Version""#, r#"{"Comment": "x", "Version""#, 1),
        "Unknown field Comment",
    );
    bucket_refused(
        &statement_with("Sid", r#""a""#).replace("2012-10-17", "2012-10-18"),
        "valid version string",
    );
    bucket_refused(
        &statement_with("Sid", r#""a""#).replace(r#""2012-10-17""#, "2012"),
        "valid version string",
    );
    bucket_refused(
        &statement_with("Sid", r#""a""#).replacen(r#"{"Version""#, r#"{"Id": 5, "Version""#, 1),
        "Id must be a string",
    );
}

#[test]
fn statement_fields() {
    bucket_refused(&statement_with("Effect", ""), "Missing required field Effect");
    bucket_refused(&statement_with("Effect", r#""allow""#), "Invalid effect: allow");
    bucket_refused(&statement_with("Effect", "true"), "Effect must be a string");
    bucket_refused(&statement_with("Principal", ""), "Missing required field Principal");
    bucket_refused(&statement_with("Action", ""), "Missing required field Action");
    bucket_refused(&statement_with("Resource", ""), "Missing required field Resource");
    bucket_refused(&statement_with("Comment", r#""x""#), "Unknown field Comment");
    bucket_refused(&statement_with("Sid", "1"), "Sid must be a string");
    bucket_refused(
        &statement_with("NotPrincipal", r#"{"AWS": "111122223333"}"#),
        "Principal or NotPrincipal, not both",
    );
    bucket_refused(
        &statement_with("NotAction", r#""s3:PutObject""#),
        "Action or NotAction, not both",
    );
    bucket_refused(
        &statement_with("NotResource", r#""arn:aws:s3:::mybucket""#),
        "Resource or NotResource, not both",
    );
    bucket_refused(&statement_with("Action", "[]"), "Action must not be empty");
    bucket_refused(&statement_with("Resource", "[5]"), "Resource values must be strings");
}

#[test]
fn duplicate_sids() {
    let statement = r#"{"Sid": "Same", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::mybucket/*"}"#;
    bucket_refused(
        &format!(r#"{{"Version": "2012-10-17", "Statement": [{statement}, {statement}]}}"#),
        "Statement IDs (SID) in a single policy must be unique",
    );
    // Statements without a Sid (or with an empty one) may repeat.
    let unnamed = statement.replace(r#""Sid": "Same", "#, r#""Sid": "", "#);
    assert!(parse(&format!(r#"{{"Statement": [{unnamed}, {unnamed}]}}"#), Scope::Bucket(B)).is_ok());
}

#[test]
fn identity_policies_have_no_principal() {
    let doc = statement_with("Sid", r#""a""#);
    refused(&doc, Scope::Identity, "Policy document should not specify a principal");
    refused(
        &doc.replace("\"Principal\"", "\"NotPrincipal\""),
        Scope::Identity,
        "should not specify a principal",
    );
    let ok = statement_with("Principal", "");
    assert!(parse(&ok, Scope::Identity).is_ok());
    refused(
        &ok.replace("arn:aws:s3:::mybucket/*", "mybucket"),
        Scope::Identity,
        "must be in ARN format",
    );
    // IAM Sids are alphanumeric; bucket policies allow more.
    let spaced = statement_with("Sid", r#""Allow reads""#);
    refused(
        &spaced.replace(r#""Principal": "*", "#, ""),
        Scope::Identity,
        "Statement IDs (SID) must be alpha-numeric",
    );
    assert!(parse(&spaced, Scope::Bucket(B)).is_ok());
}

#[test]
fn invalid_actions() {
    for action in [
        "s3:Foo",
        "s3:GetObjects",
        "s3:",
        "s3",
        "GetObject",
        "ec2:RunInstances",
        "s3:Get Object",
        "*:GetObject",
    ] {
        bucket_refused(
            &statement_with("Action", &format!(r#""{action}""#)),
            &format!("Policy has invalid action: {action}"),
        );
    }
    // A wildcard must match at least one known action.
    bucket_refused(
        &statement_with("Action", r#""s3:Frobnicate*""#),
        "Policy has invalid action: s3:Frobnicate*",
    );
    bucket_refused(
        &statement_with("Action", r#"["s3:GetObject", "s3:Nope?"]"#),
        "Policy has invalid action: s3:Nope?",
    );
    // Bucket policies take s3: actions only; identity policies iam: as well.
    bucket_refused(
        &statement_with("Action", r#""iam:CreateUser""#),
        "Policy has invalid action: iam:CreateUser",
    );
    let identity = statement_with("Principal", "").replace("s3:GetObject", "iam:CreateUser");
    assert!(parse(&identity, Scope::Identity).is_ok());
    refused(
        &identity.replace("iam:CreateUser", "iam:CreateUsers"),
        Scope::Identity,
        "invalid action: iam:CreateUsers",
    );
    // kms: and Ferrite's admin: actions: identity policies only, known names only.
    for action in [
        "kms:CreateKey",
        "kms:Describe*",
        "admin:GetServerInfo",
        "ADMIN:*",
        "admin:*Master*",
    ] {
        let doc = identity.replace("iam:CreateUser", action);
        assert!(parse(&doc, Scope::Identity).is_ok(), "{action}");
        bucket_refused(
            &statement_with("Action", &format!("\"{action}\"")),
            &format!("Policy has invalid action: {action}"),
        );
    }
    for action in ["kms:Nope", "admin:CreateUser", "admin:Nothing*", "kms:"] {
        refused(
            &identity.replace("iam:CreateUser", action),
            Scope::Identity,
            &format!("invalid action: {action}"),
        );
    }
    // Accepted forms.
    for action in [
        "*",
        "s3:*",
        "S3:getobject",
        "s3:Get*",
        "s3:*Object",
        "s3:Get?bject",
        "s3:?*",
    ] {
        assert!(
            parse(&statement_with("Action", &format!(r#""{action}""#)), Scope::Bucket(B)).is_ok(),
            "{action}"
        );
    }
}

#[test]
fn resources_outside_the_bucket() {
    for resource in [
        "*",
        "arn:aws:s3:::*",
        "arn:aws:s3:::otherbucket/*",
        "arn:aws:s3:::mybucket2",
        "arn:aws:s3:::mybucket*",
        "arn:aws:s3:::MYBUCKET/*",
        "mybucket/*",
        "",
    ] {
        bucket_refused(
            &statement_with("Resource", &format!(r#""{resource}""#)),
            "Policy has invalid resource",
        );
    }
    bucket_refused(
        &statement_with("NotResource", r#""*""#).replace(r#""Resource": "arn:aws:s3:::mybucket/*", "#, ""),
        "Policy has invalid resource",
    );
    for resource in [
        "arn:aws:s3:::mybucket",
        "arn:aws:s3:::mybucket/",
        "arn:aws:s3:::mybucket/a/*",
        "arn:aws:s3:::mybucket/${aws:username}/*",
    ] {
        assert!(
            parse(
                &statement_with("Resource", &format!(r#""{resource}""#)),
                Scope::Bucket(B)
            )
            .is_ok(),
            "{resource}"
        );
    }
}

#[test]
fn invalid_principals() {
    for principal in [
        r#""arn:aws:iam::111122223333:root""#,
        r#""**""#,
        r#"{}"#,
        r#"{"AWS": []}"#,
        r#"{"AWS": 111122223333}"#,
        r#"{"AWS": "arn:aws:iam::111122223333:user/*"}"#,
        r#"{"AWS": "arn:aws:iam::111122223333:role/admin"}"#,
        r#"{"AWS": "11112222333"}"#,
        r#"{"Service": "s3.amazonaws.com"}"#,
        r#"{"Federated": "graph.facebook.com"}"#,
        r#"{"CanonicalUser": "*"}"#,
        r#"{"CanonicalUser": ""}"#,
        r#"["*"]"#,
    ] {
        bucket_refused(&statement_with("Principal", principal), "Invalid principal in policy");
    }
}

#[test]
fn invalid_condition_operators() {
    for op in [
        "StringEqual",
        "stringequals",
        "NullIfExists",
        "ForAnyValue:Null",
        "ForSomeValues:StringEquals",
        "StringEqualsIfexists",
    ] {
        bucket_refused(
            &statement_with("Condition", &format!(r#"{{"{op}": {{"aws:SourceIp": "1.2.3.4"}}}}"#)),
            &format!("Invalid Condition type: {op}"),
        );
    }
}

#[test]
fn invalid_condition_keys() {
    for key in [
        "s3:foo",
        "aws:SourceIpAddress",
        "aws:PrincipalTag/",
        "s3:ExistingObjectTag/",
        "iam:PassedToService",
        "sourceip",
    ] {
        bucket_refused(
            &statement_with("Condition", &format!(r#"{{"StringEquals": {{"{key}": "x"}}}}"#)),
            &format!("Policy has an invalid condition key: {key}"),
        );
    }
    // Keys are case-insensitive; tag keys take any suffix; iam: keys in identity policies.
    for key in [
        "AWS:SOURCEIP",
        "s3:ExistingObjectTag/Project",
        "aws:RequestTag/cost-center",
        "s3:VersionId",
    ] {
        assert!(
            parse(
                &statement_with("Condition", &format!(r#"{{"StringEquals": {{"{key}": "x"}}}}"#)),
                Scope::Bucket(B)
            )
            .is_ok(),
            "{key}"
        );
    }
    let identity = statement_with("Principal", "")
        .replace("s3:GetObject", "iam:PassRole")
        .replace("arn:aws:s3:::mybucket/*", "*");
    let identity = identity.replacen(
        "}]}",
        r#", "Condition": {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}}]}"#,
        1,
    );
    assert!(parse(&identity, Scope::Identity).is_ok(), "{identity}");
}

#[test]
fn invalid_condition_values() {
    let cases = [
        (
            r#"{"NumericLessThan": {"s3:max-keys": "ten"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"NumericLessThan": {"s3:max-keys": "inf"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"NumericLessThan": {"s3:max-keys": "${s3:prefix}"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "yesterday"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"DateLessThan": {"aws:CurrentTime": "2020-02-30T00:00:00Z"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"IpAddress": {"aws:SourceIp": "example.com"}}"#,
            "Invalid Condition value",
        ),
        (r#"{"Bool": {"aws:SecureTransport": "yes"}}"#, "Invalid Condition value"),
        (
            r#"{"Null": {"aws:SecureTransport": "maybe"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"BinaryEquals": {"aws:SourceIdentity": "not base64!"}}"#,
            "Invalid Condition value",
        ),
        (
            r#"{"StringEquals": {"s3:x-amz-acl": []}}"#,
            "must be a string, number, boolean or a list",
        ),
        (
            r#"{"StringEquals": {"s3:x-amz-acl": null}}"#,
            "must be a string, number, boolean or a list",
        ),
        (
            r#"{"StringEquals": {"s3:x-amz-acl": {"a": "b"}}}"#,
            "must be a string, number, boolean or a list",
        ),
        (
            r#"{"StringEquals": {"s3:x-amz-acl": [["a"]]}}"#,
            "must be a string, number, boolean or a list",
        ),
        (r#"{"StringEquals": {}}"#, "names no key"),
        (r#"{"StringEquals": "x"}"#, "must map keys to values"),
        (r#""x""#, "Condition must be an object"),
    ];
    for (condition, message) in cases {
        bucket_refused(&statement_with("Condition", condition), message);
    }
}
