//! Policies from AWS's documentation, each with requests and the outcome AWS documents
//! for them. Sources: Amazon S3 User Guide "Bucket policy examples" (S3-UG), IAM User
//! Guide "Condition operators" (IAM-CO), "Policy variables" (IAM-PV), "Creating a
//! condition with multiple keys or values" (IAM-MV), "NotPrincipal", "NotAction",
//! "NotResource". Account ids in the examples are replaced by the server's account
//! where the example is about the bucket owner's own principals.

mod common;

use common::*;
use ferrite_policy::Outcome::{Allow, Deny, NotApplicable};

const B: &str = "DOC-EXAMPLE-BUCKET";

fn obj(key: &str) -> String {
    format!("arn:aws:s3:::{B}/{key}")
}

const BUCKET_ARN: &str = "arn:aws:s3:::DOC-EXAMPLE-BUCKET";

/// S3-UG "Granting read-only permission to an anonymous user", narrowed to a prefix.
#[test]
fn public_read_prefix() {
    let p = bucket_policy(
        B,
        r#"{
          "Version":"2012-10-17",
          "Statement":[{
            "Sid":"PublicRead",
            "Effect":"Allow",
            "Principal": "*",
            "Action":["s3:GetObject","s3:GetObjectVersion"],
            "Resource":["arn:aws:s3:::DOC-EXAMPLE-BUCKET/public/*"]
          }]
        }"#,
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("public/index.html"), &[]), Allow);
    assert_eq!(eval(&p, ALICE, "s3:GetObjectVersion", &obj("public/a/b"), &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("private/x"), &[]), NotApplicable);
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("public"), &[]), NotApplicable);
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("public/x"), &[]), NotApplicable);
    assert_eq!(eval(&p, ANON, "s3:ListBucket", BUCKET_ARN, &[]), NotApplicable);
    // Resource matching is case-sensitive.
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("PUBLIC/x"), &[]), NotApplicable);
}

/// S3-UG "Requiring server-side encryption": deny PutObject with the wrong header
/// (StringNotEquals) and without it (Null).
#[test]
fn deny_unencrypted_uploads() {
    let p = bucket_policy(
        B,
        r#"{
          "Version": "2012-10-17",
          "Id": "PutObjectPolicy",
          "Statement": [
            {
              "Sid": "DenyIncorrectEncryptionHeader",
              "Effect": "Deny",
              "Principal": "*",
              "Action": "s3:PutObject",
              "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
              "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
            },
            {
              "Sid": "DenyUnencryptedObjectUploads",
              "Effect": "Deny",
              "Principal": "*",
              "Action": "s3:PutObject",
              "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
              "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}
            }
          ]
        }"#,
    );
    let sse = "s3:x-amz-server-side-encryption";
    assert_eq!(
        eval(&p, ALICE, "s3:PutObject", &obj("k"), &[(sse, "aws:kms")]),
        NotApplicable
    );
    assert_eq!(eval(&p, ALICE, "s3:PutObject", &obj("k"), &[(sse, "AES256")]), Deny);
    assert_eq!(eval(&p, ALICE, "s3:PutObject", &obj("k"), &[]), Deny);
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), NotApplicable);
}

/// The Null operator alone: `"true"` means the key must be absent, `"false"` present.
#[test]
fn null_operator_both_ways() {
    let p = bucket_policy(
        B,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
            "Condition":{"Null":{"s3:x-amz-server-side-encryption":false}}}]}"#,
    );
    assert_eq!(
        eval(
            &p,
            ANON,
            "s3:PutObject",
            &obj("k"),
            &[("s3:x-amz-server-side-encryption", "AES256")]
        ),
        Allow
    );
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[]), NotApplicable);
}

/// S3-UG "Limiting access to specific IP addresses": Deny unless from 54.240.143.0/24.
#[test]
fn source_ip_deny_outside_range() {
    let p = bucket_policy(
        B,
        r#"{
          "Version": "2012-10-17",
          "Id": "S3PolicyId1",
          "Statement": [{
            "Sid": "IPAllow",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
            "Condition": {"NotIpAddress": {"aws:SourceIp": "54.240.143.0/24"}}
          }]
        }"#,
    );
    let ip = "aws:SourceIp";
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", &obj("k"), &[(ip, "54.240.143.7")]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", &obj("k"), &[(ip, "54.240.144.7")]),
        Deny
    );
    assert_eq!(
        eval(&p, ALICE, "s3:ListBucket", BUCKET_ARN, &[(ip, "2001:db8::1")]),
        Deny
    );
    // A negated operator on a missing key is true (IAM-CO), so the Deny applies.
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), Deny);
}

/// S3-UG "Allowing IPv4 and IPv6 addresses": "would allow access to the example IP
/// addresses 54.240.143.1 and 2001:DB8:1234:5678::1 and would deny access to the
/// addresses 54.240.143.129 and 2001:DB8:1234:5678:ABCD::1".
#[test]
fn source_ip_ipv4_and_ipv6_mix() {
    let p = bucket_policy(
        B,
        r#"{
          "Id":"PolicyId2",
          "Version":"2012-10-17",
          "Statement":[{
            "Sid":"AllowIPmix",
            "Effect":"Allow",
            "Principal":"*",
            "Action":"s3:*",
            "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
            "Condition": {
              "IpAddress": {"aws:SourceIp": ["54.240.143.0/24", "2001:DB8:1234:5678::/64"]},
              "NotIpAddress": {"aws:SourceIp": ["54.240.143.128/30", "2001:DB8:1234:5678:ABCD::/80"]}
            }
          }]
        }"#,
    );
    let get = |addr: &str| eval(&p, ANON, "s3:GetObject", &obj("k"), &[("aws:SourceIp", addr)]);
    assert_eq!(get("54.240.143.1"), Allow);
    assert_eq!(get("2001:DB8:1234:5678::1"), Allow);
    assert_eq!(get("2001:db8:1234:5678::1"), Allow);
    assert_eq!(get("54.240.143.129"), NotApplicable);
    assert_eq!(get("2001:DB8:1234:5678:ABCD::1"), NotApplicable);
    assert_eq!(get("54.240.142.1"), NotApplicable);
    assert_eq!(get("not an address"), NotApplicable);
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("k"), &[]), NotApplicable);
}

/// IAM-CO's `StringLike` home-directory policy (an identity policy): list only your
/// own folder and work only inside it.
#[test]
fn username_home_folder() {
    let p = user_policy(
        r#"{
          "Version": "2012-10-17",
          "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "Resource": "arn:aws:s3:::*"},
            {
              "Effect": "Allow",
              "Action": "s3:ListBucket",
              "Resource": "arn:aws:s3:::BUCKET-NAME",
              "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}
            },
            {
              "Effect": "Allow",
              "Action": "s3:*",
              "Resource": ["arn:aws:s3:::BUCKET-NAME/home/${aws:username}", "arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*"]
            }
          ]
        }"#,
    );
    let bucket = "arn:aws:s3:::BUCKET-NAME";
    let list = |who, prefix| eval(&p, who, "s3:ListBucket", bucket, &[("s3:prefix", prefix)]);
    assert_eq!(list(ALICE, "home/alice/"), Allow);
    assert_eq!(list(ALICE, "home/"), Allow);
    assert_eq!(list(ALICE, ""), Allow);
    assert_eq!(list(ALICE, "home/Bob/"), NotApplicable);
    assert_eq!(list(BOB, "home/Bob/"), Allow);
    assert_eq!(list(ALICE, "home/alice/sub/"), NotApplicable);
    assert_eq!(eval(&p, ALICE, "s3:ListBucket", bucket, &[]), NotApplicable);

    let object = |who, key: &str| eval(&p, who, "s3:PutObject", &format!("{bucket}/{key}"), &[]);
    assert_eq!(object(ALICE, "home/alice/notes.txt"), Allow);
    assert_eq!(object(ALICE, "home/alice"), Allow);
    assert_eq!(object(ALICE, "home/Bob/notes.txt"), NotApplicable);
    assert_eq!(object(ALICE, "home/alicex/notes.txt"), NotApplicable);
    // The root has no aws:username: the variable has no value, the resource matches
    // nothing (IAM-PV "Policy variables with no value").
    assert_eq!(object(ROOT, "home//notes.txt"), NotApplicable);
    assert_eq!(eval(&p, ALICE, "s3:ListAllMyBuckets", "arn:aws:s3:::*", &[]), Allow);
}

/// IAM-PV: without `Version` (or with 2008-10-17) variables are literal text.
#[test]
fn variables_are_literal_before_2012() {
    for version in ["", r#""Version": "2008-10-17","#] {
        let p = user_policy(&format!(
            r#"{{ {version} "Statement": [{{"Effect": "Allow", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::b/${{aws:username}}/*"}}]}}"#
        ));
        assert_eq!(
            eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/alice/x", &[]),
            NotApplicable
        );
        assert_eq!(
            eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/${aws:username}/x", &[]),
            Allow
        );
    }
}

/// IAM-PV: other variables, a default value, and the `${*}` / `${?}` / `${$}` escapes.
#[test]
fn more_policy_variables() {
    let p = user_policy(
        r#"{"Version": "2012-10-17", "Statement": [
          {"Sid": "ById", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:userid}/*"},
          {"Sid": "ByType", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:PrincipalType}/*"},
          {"Sid": "Team", "Effect": "Allow", "Action": "s3:PutObject",
           "Resource": "arn:aws:s3:::b-${aws:PrincipalTag/team, 'company-wide'}/*"},
          {"Sid": "Star", "Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/literal${*}${?}${$}"},
          {"Sid": "Prefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
           "Condition": {"StringEquals": {"s3:prefix": "${aws:username}/"}}}
        ]}"#,
    );
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/AIDAALICEEXAMPLE/x", &[]),
        Allow
    );
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/AIDABOBEXAMPLE/x", &[]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ROOT, "s3:GetObject", "arn:aws:s3:::b/000000000000/x", &[]),
        Allow
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/User/x", &[]), Allow);
    assert_eq!(eval(&p, ROOT, "s3:GetObject", "arn:aws:s3:::b/Account/x", &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:GetObject", "arn:aws:s3:::b/Anonymous/x", &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:GetObject", "arn:aws:s3:::b/anonymous/x", &[]), Allow);

    // Without the tag, the default applies.
    assert_eq!(
        eval(&p, ALICE, "s3:PutObject", "arn:aws:s3:::b-company-wide/x", &[]),
        Allow
    );
    assert_eq!(
        eval(
            &p,
            ALICE,
            "s3:PutObject",
            "arn:aws:s3:::b-yellow/x",
            &[("aws:PrincipalTag/team", "yellow")]
        ),
        Allow
    );
    assert_eq!(
        eval(
            &p,
            ALICE,
            "s3:PutObject",
            "arn:aws:s3:::b-company-wide/x",
            &[("aws:PrincipalTag/team", "yellow")]
        ),
        NotApplicable
    );

    assert_eq!(
        eval(&p, ALICE, "s3:DeleteObject", "arn:aws:s3:::b/literal*?$", &[]),
        Allow
    );
    assert_eq!(
        eval(&p, ALICE, "s3:DeleteObject", "arn:aws:s3:::b/literalxy$", &[]),
        NotApplicable
    );

    assert_eq!(
        eval(&p, ALICE, "s3:ListBucket", "arn:aws:s3:::b", &[("s3:prefix", "alice/")]),
        Allow
    );
    assert_eq!(
        eval(&p, ALICE, "s3:ListBucket", "arn:aws:s3:::b", &[("s3:prefix", "Bob/")]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ROOT, "s3:ListBucket", "arn:aws:s3:::b", &[("s3:prefix", "/")]),
        NotApplicable
    );
}

/// IAM-PV: a variable with no value in a condition: `StringEquals` does not match,
/// `StringNotEquals` does ("Inverted condition operators ... do match against a null
/// value").
#[test]
fn variable_without_value_in_conditions() {
    let p = bucket_policy(
        B,
        r#"{"Version": "2012-10-17", "Statement": [
          {"Sid": "Eq", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
           "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition": {"StringEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}},
          {"Sid": "NotEq", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
           "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition": {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}}}
        ]}"#,
    );
    let tag = ("s3:ExistingObjectTag/Team", "red");
    assert_eq!(
        eval(
            &p,
            ALICE,
            "s3:GetObject",
            &obj("k"),
            &[tag, ("aws:PrincipalTag/Team", "red")]
        ),
        Allow
    );
    assert_eq!(
        eval(
            &p,
            ALICE,
            "s3:GetObject",
            &obj("k"),
            &[tag, ("aws:PrincipalTag/Team", "blue")]
        ),
        Deny
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[tag]), Deny);
}

/// S3-UG "Adding a bucket policy to require MFA": the Deny on `taxdocuments/` beats
/// the public Allow; then the `NumericGreaterThan` age limit.
#[test]
fn explicit_deny_beats_allow() {
    let p = bucket_policy(
        B,
        r#"{
          "Version": "2012-10-17",
          "Id": "123",
          "Statement": [
            {"Sid": "", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/taxdocuments/*",
             "Condition": {"Null": {"aws:MultiFactorAuthAge": true}}},
            {"Sid": "", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/taxdocuments/*",
             "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": 3600}}},
            {"Sid": "", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
             "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"}
          ]
        }"#,
    );
    let mfa = "aws:MultiFactorAuthAge";
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", &obj("taxdocuments/2020.pdf"), &[]),
        Deny
    );
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", &obj("taxdocuments/2020.pdf"), &[(mfa, "30")]),
        Allow
    );
    assert_eq!(
        eval(
            &p,
            ALICE,
            "s3:GetObject",
            &obj("taxdocuments/2020.pdf"),
            &[(mfa, "3600")]
        ),
        Allow
    );
    assert_eq!(
        eval(
            &p,
            ALICE,
            "s3:GetObject",
            &obj("taxdocuments/2020.pdf"),
            &[(mfa, "3601")]
        ),
        Deny
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("photos/cat.jpg"), &[]), Allow);
    assert_eq!(
        eval(&p, ALICE, "s3:PutObject", &obj("taxdocuments/x"), &[(mfa, "5")]),
        NotApplicable
    );
    // Statement order does not matter: a Deny after the Allow still wins.
    let reversed = bucket_policy(
        B,
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"}]}"#,
    );
    assert_eq!(eval(&reversed, ALICE, "s3:GetObject", &obj("k"), &[]), Deny);
    assert_eq!(eval(&reversed, BOB, "s3:GetObject", &obj("k"), &[]), Allow);
}

/// AWS "NotPrincipal" with Deny: everyone except Bob (and his account) is denied.
#[test]
fn not_principal_deny_all_but_one() {
    let p = bucket_policy(
        "BUCKETNAME",
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Effect": "Deny",
            "NotPrincipal": {"AWS": ["arn:aws:iam::000000000000:user/Bob", "arn:aws:iam::000000000000:root"]},
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"]
          }]
        }"#,
    );
    let get = |who| eval(&p, who, "s3:GetObject", "arn:aws:s3:::BUCKETNAME/k", &[]);
    assert_eq!(get(BOB), NotApplicable);
    assert_eq!(get(ROOT), NotApplicable);
    assert_eq!(get(ALICE), Deny);
    assert_eq!(get(ANON), Deny);
    // By canonical id too.
    let p = bucket_policy(
        "BUCKETNAME",
        r#"{"Statement": [{"Effect": "Deny", "NotPrincipal": {"CanonicalUser": "c0ffee01alice"},
            "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::BUCKETNAME/*"}]}"#,
    );
    assert_eq!(
        eval(&p, ALICE, "s3:DeleteObject", "arn:aws:s3:::BUCKETNAME/k", &[]),
        NotApplicable
    );
    assert_eq!(eval(&p, BOB, "s3:DeleteObject", "arn:aws:s3:::BUCKETNAME/k", &[]), Deny);
}

/// AWS "NotAction": allow everything but IAM; deny everything but IAM without MFA.
#[test]
fn not_action() {
    let p = user_policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}"#,
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &[]), Allow);
    assert_eq!(
        eval(&p, ALICE, "iam:CreateUser", "arn:aws:iam::000000000000:user/x", &[]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ALICE, "IAM:createuser", "arn:aws:iam::000000000000:user/x", &[]),
        NotApplicable
    );

    let p = user_policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Sid": "DenyAllUsersNotUsingMFA", "Effect": "Deny",
            "NotAction": "iam:*", "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}"#,
    );
    let mfa = "aws:MultiFactorAuthPresent";
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &[(mfa, "false")]),
        Deny
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &[]), Deny);
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &[(mfa, "true")]),
        NotApplicable
    );
    assert_eq!(eval(&p, ALICE, "iam:ListUsers", "*", &[(mfa, "false")]), NotApplicable);

    let p = bucket_policy(
        B,
        r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
            "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET"}}"#,
    );
    assert_eq!(eval(&p, ALICE, "s3:ListBucket", BUCKET_ARN, &[]), Allow);
    assert_eq!(eval(&p, ALICE, "s3:DeleteBucket", BUCKET_ARN, &[]), NotApplicable);
}

/// AWS "NotResource": deny all of S3 except the payroll folder.
#[test]
fn not_resource() {
    let p = user_policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:*",
            "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]}}"#,
    );
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/2020.csv", &[]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll", &[]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::HRBucket/Other/x", &[]),
        Deny
    );
    assert_eq!(eval(&p, ALICE, "s3:ListBucket", "arn:aws:s3:::HRBucket", &[]), Deny);
    assert_eq!(
        eval(&p, ALICE, "iam:GetUser", "arn:aws:s3:::HRBucket/Other/x", &[]),
        NotApplicable
    );
}

/// IAM-CO "...IfExists": checked only when the key is present.
#[test]
fn if_exists() {
    let p = bucket_policy(
        B,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
            "Condition": {"StringLikeIfExists": {"s3:x-amz-storage-class": ["STANDARD*", "INTELLIGENT_TIERING"]}}}]}"#,
    );
    let sc = "s3:x-amz-storage-class";
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[(sc, "STANDARD_IA")]), Allow);
    assert_eq!(
        eval(&p, ANON, "s3:PutObject", &obj("k"), &[(sc, "GLACIER")]),
        NotApplicable
    );

    // "If you are using an "Effect": "Deny" element with a negated condition operator
    // like StringNotEqualsIfExists, the request is still denied even if the tag is
    // missing."
    let p = bucket_policy(
        B,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-storage-class": "STANDARD"}}}]}"#,
    );
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[]), Deny);
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[(sc, "GLACIER")]), Deny);
    assert_eq!(
        eval(&p, ANON, "s3:PutObject", &obj("k"), &[(sc, "STANDARD")]),
        NotApplicable
    );
}

/// IAM-MV: `ForAllValues` (every request value in the policy's set; true with no
/// values) and `ForAnyValue` (some request value in the set; false with none), with
/// S3's multi-valued `s3:RequestObjectTagKeys` in place of DynamoDB's attributes.
#[test]
fn for_all_values_and_for_any_value() {
    let p = bucket_policy(
        B,
        r#"{"Version": "2012-10-17", "Statement": [
          {"Sid": "OnlyTheseTags", "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
           "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition": {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["PostDateTime", "Message", "Tags"]}}},
          {"Sid": "NeverThese", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
           "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition": {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["ID", "PostDateTime"]}}}
        ]}"#,
    );
    let k = "s3:RequestObjectTagKeys";
    let put = |tags: &[&str]| {
        let keys: Vec<(&str, &str)> = tags.iter().map(|t| (k, *t)).collect();
        eval(&p, ANON, "s3:PutObject", &obj("k"), &keys)
    };
    assert_eq!(put(&["Message", "Tags"]), Allow);
    assert_eq!(put(&["Message", "UserName"]), NotApplicable);
    assert_eq!(put(&[]), Allow);
    // The documented ForAnyValue case: UserName, Message, PostDateTime -> denied.
    assert_eq!(put(&["UserName", "Message", "PostDateTime"]), Deny);
    assert_eq!(put(&["ID"]), Deny);

    // Negated operators under a set operator: each request value is tested with the
    // negated operator ("matches none of the policy values").
    let p = bucket_policy(
        B,
        r#"{"Version": "2012-10-17", "Statement": [
          {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition": {"ForAnyValue:StringNotLike": {"s3:RequestObjectTagKeys": ["team-*", "cost-center"]}}}
        ]}"#,
    );
    let put = |tags: &[&str]| {
        let keys: Vec<(&str, &str)> = tags.iter().map(|t| (k, *t)).collect();
        eval(&p, ANON, "s3:PutObject", &obj("k"), &keys)
    };
    assert_eq!(put(&["team-a", "cost-center"]), NotApplicable);
    assert_eq!(put(&["team-a", "secret"]), Deny);
    assert_eq!(put(&[]), NotApplicable);
}

/// A multi-valued key without a set operator: a positive operator matches when any
/// value does; a negated one only when none does.
#[test]
fn multi_valued_key_without_set_operator() {
    let p = bucket_policy(
        B,
        r#"{"Version": "2012-10-17", "Statement": [
          {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition": {"StringEquals": {"aws:TagKeys": "x"}}},
          {"Sid": "D", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition": {"StringNotEquals": {"aws:TagKeys": "y"}}}
        ]}"#,
    );
    let tk = "aws:TagKeys";
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("k"), &[(tk, "x"), (tk, "y")]),
        Allow
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("k"), &[(tk, "x")]), Deny);
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("k"), &[(tk, "z"), (tk, "y")]),
        NotApplicable
    );
}

/// IAM-CO date operators with `aws:CurrentTime` (ISO 8601) and `aws:EpochTime`
/// (seconds); policy values in either form.
#[test]
fn date_operators() {
    let p = user_policy(
        r#"{"Version": "2012-10-17", "Statement": [
          {"Sid": "Window", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
           "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:01Z"},
                         "DateLessThan": {"aws:CurrentTime": "2021-01-01T00:00:00Z"}}},
          {"Sid": "Epoch", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
           "Condition": {"DateLessThanEquals": {"aws:EpochTime": "2020-06-01"}}},
          {"Sid": "Exact", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*",
           "Condition": {"DateEquals": {"aws:CurrentTime": 1590969600}}},
          {"Sid": "Never", "Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*",
           "Condition": {"DateNotEquals": {"aws:CurrentTime": "2020-06-01T00:00:00Z"},
                         "DateGreaterThanEquals": {"aws:CurrentTime": "2020-06-01T00:00:00+02:00"}}}
        ]}"#,
    );
    let now = "aws:CurrentTime";
    let get = |t: &str| eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &[(now, t)]);
    assert_eq!(get("2020-06-15T12:00:00Z"), Allow);
    assert_eq!(get("2020-01-01T00:00:01Z"), NotApplicable);
    assert_eq!(get("2020-01-01T00:00:02Z"), Allow);
    assert_eq!(get("2021-01-01T00:00:00Z"), NotApplicable);
    assert_eq!(get("2019-12-31T23:59:59Z"), NotApplicable);
    assert_eq!(get("2020-06-15T14:00:00+02:00"), Allow);
    assert_eq!(get("garbage"), NotApplicable);
    assert_eq!(eval(&p, ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &[]), NotApplicable);

    let epoch = "aws:EpochTime";
    // 2020-06-01T00:00:00Z is 1590969600.
    assert_eq!(eval(&p, ALICE, "s3:PutObject", "*", &[(epoch, "1590969600")]), Allow);
    assert_eq!(
        eval(&p, ALICE, "s3:PutObject", "*", &[(epoch, "1590969601")]),
        NotApplicable
    );

    assert_eq!(
        eval(&p, ALICE, "s3:DeleteObject", "*", &[(now, "2020-06-01T00:00:00Z")]),
        Deny
    );
    assert_eq!(
        eval(&p, ALICE, "s3:DeleteObject", "*", &[(now, "2020-06-01T00:00:01Z")]),
        Allow
    );
    assert_eq!(
        eval(&p, ALICE, "s3:DeleteObject", "*", &[(now, "2020-05-31T22:00:00Z")]),
        Allow
    );
    assert_eq!(
        eval(&p, ALICE, "s3:DeleteObject", "*", &[(now, "2020-05-31T21:59:59Z")]),
        NotApplicable
    );
}

/// IAM-CO numeric operators: "the requester can list up to 10 objects".
#[test]
fn numeric_operators() {
    let p = bucket_policy(
        "example_bucket",
        r#"{"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
           "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}},
          {"Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket",
           "Condition": {"NumericEquals": {"s3:max-keys": [3, 4.5]}}},
          {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::example_bucket/*",
           "Condition": {"NumericNotEquals": {"s3:object-lock-remaining-retention-days": ["0", "1"]},
                         "NumericGreaterThan": {"s3:object-lock-remaining-retention-days": "-5"},
                         "NumericLessThan": {"s3:object-lock-remaining-retention-days": 365},
                         "NumericGreaterThanEquals": {"s3:object-lock-remaining-retention-days": "1.5"}}}
        ]}"#,
    );
    let list = |n: &str| {
        eval(
            &p,
            ANON,
            "s3:ListBucket",
            "arn:aws:s3:::example_bucket",
            &[("s3:max-keys", n)],
        )
    };
    assert_eq!(list("10"), Allow);
    assert_eq!(list("1"), Allow);
    assert_eq!(list("10.0"), Allow);
    assert_eq!(list("11"), NotApplicable);
    assert_eq!(list("3"), Deny);
    assert_eq!(list("4.5"), Deny);
    assert_eq!(list("ten"), NotApplicable);
    assert_eq!(
        eval(&p, ANON, "s3:ListBucket", "arn:aws:s3:::example_bucket", &[]),
        NotApplicable
    );

    let days = "s3:object-lock-remaining-retention-days";
    let put = |n: &str| eval(&p, ANON, "s3:PutObject", "arn:aws:s3:::example_bucket/k", &[(days, n)]);
    assert_eq!(put("30"), Allow);
    assert_eq!(put("1"), NotApplicable);
    assert_eq!(put("2"), Allow);
    assert_eq!(put("365"), NotApplicable);
    assert_eq!(put("364.9"), Allow);
}

/// IAM-CO's `Bool` example: deny all S3 actions on a bucket unless over TLS.
#[test]
fn bool_secure_transport() {
    let p = user_policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Sid": "BooleanExample", "Action": "s3:*", "Effect": "Deny",
            "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}"#,
    );
    let tls = "aws:SecureTransport";
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[(tls, "false")]), Deny);
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[(tls, "FALSE")]), Deny);
    assert_eq!(
        eval(&p, ALICE, "s3:GetObject", &obj("k"), &[(tls, "true")]),
        NotApplicable
    );
    // "If the key that you specify in a policy condition is not present in the request
    // context, the values do not match."
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), NotApplicable);
    // A JSON boolean works as well.
    let p = bucket_policy(
        B,
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*", "Condition": {"Bool": {"aws:SecureTransport": true}}}]}"#,
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("k"), &[(tls, "true")]), Allow);
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("k"), &[(tls, "false")]),
        NotApplicable
    );
}

/// Action names are case-insensitive ("s3:getobject" is "s3:GetObject"); resources are not.
#[test]
fn case_insensitive_actions() {
    let p = bucket_policy(
        B,
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["S3:getobject", "s3:LISTBUCKET", "s3:put*ACL"],
            "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"]}]}"#,
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ANON, "S3:GETOBJECT", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:ListBucket", BUCKET_ARN, &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:PutObjectAcl", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:PutBucketAcl", BUCKET_ARN, &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, ANON, "s3:GetObjectAcl", &obj("k"), &[]), NotApplicable);
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", "arn:aws:s3:::doc-example-bucket/k", &[]),
        NotApplicable
    );
}

/// `?` matches exactly one character, in actions and resources.
#[test]
fn question_mark_wildcards() {
    let p = bucket_policy(
        B,
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Get?bject",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/report-20??.csv"}]}"#,
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("report-2021.csv"), &[]), Allow);
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("report-202.csv"), &[]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("report-20211.csv"), &[]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ANON, "s3:GetObjectAcl", &obj("report-2021.csv"), &[]),
        NotApplicable
    );
}

/// S3-UG "Granting permissions to multiple accounts with added conditions" and
/// "cross-account permissions ... bucket owner has full control", with the server's
/// account: an account principal in an Allow is the account (its root) itself.
#[test]
fn account_principals() {
    let p = bucket_policy(
        B,
        r#"{
          "Version":"2012-10-17",
          "Statement":[{
            "Sid":"AddCannedAcl",
            "Effect":"Allow",
            "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "000000000000"]},
            "Action":["s3:PutObject","s3:PutObjectAcl"],
            "Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
            "Condition":{"StringEquals":{"s3:x-amz-acl":["public-read"]}}
          }]
        }"#,
    );
    let acl = ("s3:x-amz-acl", "public-read");
    assert_eq!(eval(&p, ROOT, "s3:PutObject", &obj("k"), &[acl]), Allow);
    assert_eq!(
        eval(&p, ROOT, "s3:PutObject", &obj("k"), &[("s3:x-amz-acl", "private")]),
        NotApplicable
    );
    assert_eq!(eval(&p, ALICE, "s3:PutObject", &obj("k"), &[acl]), NotApplicable);
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[acl]), NotApplicable);

    // In a Deny, the account stands for all its principals.
    let p = bucket_policy(
        B,
        r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:root"},
            "Action":"s3:DeleteObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"}]}"#,
    );
    assert_eq!(eval(&p, ALICE, "s3:DeleteObject", &obj("k"), &[]), Deny);
    assert_eq!(eval(&p, ROOT, "s3:DeleteObject", &obj("k"), &[]), Deny);
    assert_eq!(eval(&p, ANON, "s3:DeleteObject", &obj("k"), &[]), NotApplicable);

    // Another account's principals never match this server's callers.
    let p = bucket_policy(
        B,
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice"]},
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"}]}"#,
    );
    assert_eq!(eval(&p, ROOT, "s3:GetObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), NotApplicable);
}

/// User ARNs (with a path) and canonical ids; `{"AWS": "*"}` is everyone, anonymous included.
#[test]
fn user_and_canonical_principals() {
    let p = bucket_policy(
        B,
        r#"{"Statement":[
          {"Sid":"1","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/division_abc/subdivision_xyz/alice"},
           "Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"},
          {"Sid":"2","Effect":"Allow","Principal":{"CanonicalUser":["c0ffee02bob"]},
           "Action":"s3:PutObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"},
          {"Sid":"3","Effect":"Allow","Principal":{"AWS":"*"},
           "Action":"s3:ListBucket","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET"}
        ]}"#,
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, BOB, "s3:GetObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, ROOT, "s3:GetObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, BOB, "s3:PutObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ALICE, "s3:PutObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, ANON, "s3:ListBucket", BUCKET_ARN, &[]), Allow);
}

/// S3-UG "Restricting access to a specific HTTP referer".
#[test]
fn referer_string_like() {
    let p = bucket_policy(
        B,
        r#"{
          "Version":"2012-10-17",
          "Id":"http referer policy example",
          "Statement":[{
            "Sid":"Allow get requests originating from www.example.com and example.com.",
            "Effect":"Allow",
            "Principal":"*",
            "Action":["s3:GetObject","s3:GetObjectVersion"],
            "Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
            "Condition":{"StringLike":{"aws:Referer":["http://www.example.com/*","http://example.com/*"]}}
          }]
        }"#,
    );
    let get = |r: &str| eval(&p, ANON, "s3:GetObject", &obj("k"), &[("aws:Referer", r)]);
    assert_eq!(get("http://www.example.com/page.html"), Allow);
    assert_eq!(get("http://example.com/"), Allow);
    assert_eq!(get("http://evil.com/http://example.com/"), NotApplicable);
    assert_eq!(get("HTTP://EXAMPLE.COM/"), NotApplicable);
    // Condition keys are case-insensitive: the context key `aws:referer` is `aws:Referer`.
    assert_eq!(
        eval(
            &p,
            ANON,
            "s3:GetObject",
            &obj("k"),
            &[("AWS:REFERER", "http://example.com/x")]
        ),
        Allow
    );
}

/// Negated string operators on a missing key are true (IAM-CO "Important" note).
#[test]
fn negated_operators_on_missing_keys() {
    let p = bucket_policy(
        B,
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"A","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/a/*",
           "Condition":{"StringNotLike":{"aws:UserAgent":"*curl*"}}},
          {"Sid":"B","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/b/*",
           "Condition":{"StringEquals":{"aws:UserAgent":"aws-cli"}}},
          {"Sid":"C","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/c/*",
           "Condition":{"StringNotEqualsIgnoreCase":{"aws:UserAgent":"AWS-CLI"}}}
        ]}"#,
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("a/k"), &[]), Allow);
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("a/k"), &[("aws:UserAgent", "curl/8.0")]),
        NotApplicable
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("b/k"), &[]), NotApplicable);
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("b/k"), &[("aws:UserAgent", "aws-cli")]),
        Allow
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("c/k"), &[]), Allow);
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("c/k"), &[("aws:UserAgent", "Aws-Cli")]),
        NotApplicable
    );
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("c/k"), &[("aws:UserAgent", "boto3")]),
        Allow
    );
}

/// `StringEqualsIgnoreCase` and several operators and keys in one block (all must hold).
#[test]
fn ignore_case_and_conjunction() {
    let p = bucket_policy(
        B,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject",
          "Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
          "Condition":{
            "StringEqualsIgnoreCase":{"s3:x-amz-storage-class":"standard","s3:x-amz-acl":["PRIVATE","bucket-owner-read"]},
            "Bool":{"aws:SecureTransport":"true"}
          }}]}"#,
    );
    let base = [
        ("s3:x-amz-storage-class", "STANDARD"),
        ("s3:x-amz-acl", "private"),
        ("aws:SecureTransport", "true"),
    ];
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &base), Allow);
    for drop in 0..base.len() {
        let partial: Vec<_> = base
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, kv)| *kv)
            .collect();
        assert_eq!(
            eval(&p, ANON, "s3:PutObject", &obj("k"), &partial),
            NotApplicable,
            "without {:?}",
            base[drop]
        );
    }
    let wrong = [
        ("s3:x-amz-storage-class", "STANDARD"),
        ("s3:x-amz-acl", "public-read"),
        ("aws:SecureTransport", "true"),
    ];
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &wrong), NotApplicable);
}

/// IAM-CO ARN operators: component-wise matching, `ArnEquals` = `ArnLike`.
#[test]
fn arn_operators() {
    let p = bucket_policy(
        B,
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Like","Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::sourcebucket*"},
                        "StringEquals":{"aws:SourceAccount":"123456789012","s3:x-amz-acl":"bucket-owner-full-control"}}},
          {"Sid":"Not","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"ArnNotEquals":{"aws:SourceArn":["arn:aws:s3:::sourcebucket*", "arn:aws:sns:*:123456789012:topic"]}}}
        ]}"#,
    );
    let ctx = |arn| {
        [
            ("aws:SourceArn", arn),
            ("aws:SourceAccount", "123456789012"),
            ("s3:x-amz-acl", "bucket-owner-full-control"),
        ]
    };
    assert_eq!(
        eval(&p, ANON, "s3:PutObject", &obj("k"), &ctx("arn:aws:s3:::sourcebucket")),
        Allow
    );
    assert_eq!(
        eval(&p, ANON, "s3:PutObject", &obj("k"), &ctx("arn:aws:s3:::sourcebucket-2")),
        Allow
    );
    assert_eq!(
        eval(&p, ANON, "s3:PutObject", &obj("k"), &ctx("arn:aws:s3:::otherbucket")),
        Deny
    );
    assert_eq!(
        eval(
            &p,
            ANON,
            "s3:PutObject",
            &obj("k"),
            &ctx("arn:aws:sns:us-east-1:123456789012:topic")
        ),
        NotApplicable
    );
    assert_eq!(
        eval(
            &p,
            ANON,
            "s3:PutObject",
            &obj("k"),
            &ctx("arn:aws:sns:us-east-1:999999999999:topic")
        ),
        Deny
    );
}

/// IAM-CO `BinaryEquals`: the policy holds base64, compared byte for byte.
#[test]
fn binary_equals() {
    let p = bucket_policy(
        B,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
            "Condition":{"BinaryEquals":{"aws:SourceIdentity":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}}]}"#,
    );
    let key = "aws:SourceIdentity";
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("k"), &[(key, "BinaryValueInBase64")]),
        Allow
    );
    assert_eq!(
        eval(&p, ANON, "s3:GetObject", &obj("k"), &[(key, "binaryvalueinbase64")]),
        NotApplicable
    );
    assert_eq!(
        eval(
            &p,
            ANON,
            "s3:GetObject",
            &obj("k"),
            &[(key, "QmluYXJ5VmFsdWVJbkJhc2U2NA==")]
        ),
        NotApplicable
    );
}

/// The principal keys come from the request's principal, not from the context.
#[test]
fn derived_principal_keys() {
    let p = bucket_policy(
        B,
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Arn","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/alice"}}},
          {"Sid":"Acct","Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"StringEquals":{"aws:PrincipalAccount":"000000000000"}}},
          {"Sid":"Type","Effect":"Allow","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"StringEquals":{"aws:PrincipalType":["Account","Anonymous"]}}},
          {"Sid":"Name","Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET",
           "Condition":{"Null":{"aws:username":"false"}}},
          {"Sid":"RootArn","Effect":"Allow","Principal":"*","Action":"s3:GetObjectAcl","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:root"}}}
        ]}"#,
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, BOB, "s3:GetObject", &obj("k"), &[]), NotApplicable);
    // A context value for a derived key changes nothing.
    assert_eq!(
        eval(
            &p,
            BOB,
            "s3:GetObject",
            &obj("k"),
            &[("aws:PrincipalArn", "arn:aws:iam::000000000000:user/alice")]
        ),
        NotApplicable
    );
    assert_eq!(eval(&p, ANON, "s3:GetObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, BOB, "s3:PutObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:PutObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, ROOT, "s3:DeleteObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ANON, "s3:DeleteObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ALICE, "s3:DeleteObject", &obj("k"), &[]), NotApplicable);
    assert_eq!(eval(&p, ALICE, "s3:ListBucket", BUCKET_ARN, &[]), Allow);
    assert_eq!(eval(&p, ROOT, "s3:ListBucket", BUCKET_ARN, &[]), NotApplicable);
    assert_eq!(eval(&p, ROOT, "s3:GetObjectAcl", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ALICE, "s3:GetObjectAcl", &obj("k"), &[]), NotApplicable);
}

/// Regression: whether `aws:PrincipalArn` is computed was once decided by searching
/// the document's text, so a key spelled with a JSON escape was never given a value and
/// this Deny never applied.
#[test]
fn principal_arn_spelled_with_json_escapes() {
    let p = bucket_policy(
        B,
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"D","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"ArnEquals":{"aws:Principal\u0041rn":"arn:aws:iam::000000000000:user/alice"}}},
          {"Sid":"V","Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
           "Condition":{"StringEquals":{"aws:UserAgent":"${aws:Principal\u0041rn}"}}}
        ]}"#,
    );
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), Deny);
    assert_eq!(eval(&p, BOB, "s3:GetObject", &obj("k"), &[]), NotApplicable);
    let ua = ("aws:UserAgent", "arn:aws:iam::000000000000:user/Bob");
    assert_eq!(eval(&p, BOB, "s3:PutObject", &obj("k"), &[ua]), Allow);
}

/// A user name longer than the stack buffer for `aws:PrincipalArn` still works.
#[test]
fn long_principal_arn() {
    let name = "n".repeat(200);
    let p = bucket_policy(
        B,
        &format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
               "Condition":{{"StringEquals":{{"aws:PrincipalArn":"arn:aws:iam::000000000000:user/{name}"}}}}}}]}}"#
        ),
    );
    let user = ferrite_policy::Principal::User {
        name: &name,
        canonical_id: "c",
        user_id: "u",
    };
    assert_eq!(eval(&p, user, "s3:GetObject", &obj("k"), &[]), Allow);
    assert_eq!(eval(&p, ALICE, "s3:GetObject", &obj("k"), &[]), NotApplicable);
}

/// Identity policies for IAM actions on user resources (a user managing their own keys).
#[test]
fn iam_actions_on_own_user() {
    let p = user_policy(
        r#"{"Version":"2012-10-17","Statement":[{"Action":["iam:*AccessKey*"],"Effect":"Allow",
            "Resource":["arn:aws:iam::000000000000:user/${aws:username}"]}]}"#,
    );
    let me = "arn:aws:iam::000000000000:user/alice";
    assert_eq!(eval(&p, ALICE, "iam:CreateAccessKey", me, &[]), Allow);
    assert_eq!(eval(&p, ALICE, "iam:ListAccessKeys", me, &[]), Allow);
    assert_eq!(
        eval(
            &p,
            ALICE,
            "iam:DeleteAccessKey",
            "arn:aws:iam::000000000000:user/Bob",
            &[]
        ),
        NotApplicable
    );
    assert_eq!(eval(&p, ALICE, "iam:CreateUser", me, &[]), NotApplicable);
    assert_eq!(eval(&p, ALICE, "s3:CreateAccessKey", me, &[]), NotApplicable);
}
