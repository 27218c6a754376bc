//! Property tests: parsing arbitrary or mutated documents and evaluating arbitrary
//! requests never panics; an unconditional Deny always wins; context keys ignore case.

use ferrite_policy::{Context, Outcome, Policy, Principal, Request, Scope, parse};
use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::{Index, select};

const BUCKET: &str = "bucket";

/// Valid policies exercising every element and operator family.
const CORPUS: &[(&str, bool)] = &[
    (
        r#"{"Version":"2012-10-17","Id":"x","Statement":[
          {"Sid":"1","Effect":"Allow","Principal":"*","Action":["s3:Get*","s3:List*"],
           "Resource":["arn:aws:s3:::bucket","arn:aws:s3:::bucket/${aws:username}/*"],
           "Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*",""]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}},
          {"Sid":"2","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::000000000000:user/alice","000000000000"]},
           "NotAction":"s3:GetObject","NotResource":"arn:aws:s3:::bucket/public/*",
           "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"},"Bool":{"aws:SecureTransport":false}}},
          {"Sid":"3","Effect":"Allow","Principal":{"CanonicalUser":["abc"],"AWS":"arn:aws:iam::000000000000:root"},
           "Action":"s3:PutObject","Resource":"arn:aws:s3:::bucket/*",
           "Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["a","b"]},
                        "ForAnyValue:StringNotLike":{"aws:TagKeys":["x*"]},
                        "NumericLessThanEquals":{"s3:max-keys":10},
                        "DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
                        "ArnLike":{"aws:SourceArn":"arn:aws:s3:::src*"},
                        "BinaryEquals":{"aws:SourceIdentity":"YWJj"},
                        "StringEqualsIgnoreCaseIfExists":{"aws:PrincipalArn":"${aws:PrincipalArn}"}}}]}"#,
        true,
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:Get?bject","Resource":"arn:aws:s3:::bucket/a?c*",
            "Condition":{"StringNotEqualsIgnoreCase":{"aws:UserAgent":"x"},"DateLessThanEquals":{"aws:EpochTime":1700000000}}}}"#,
        true,
    ),
    (
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::000000000000:user/${aws:username}"},
          {"Effect":"Deny","NotAction":"iam:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}},
          {"Effect":"Allow","Action":"s3:*","NotResource":["arn:aws:s3:::hr/*"],
           "Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:PrincipalTag/team, 'x'}${*}"},
                        "NumericNotEquals":{"s3:signatureAge":["1","2.5"]},"DateNotEquals":{"aws:CurrentTime":"2020-01-01"},
                        "NotIpAddress":{"aws:SourceIp":"192.0.2.1"},"ArnNotLike":{"aws:SourceArn":"*"}}}]}"#,
        false,
    ),
];

const TOKENS: &[&str] = &[
    "*",
    "?",
    "${",
    "}",
    "${aws:username}",
    "${*}",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "0",
    "-1e999",
    "\"Condition\":{}",
    "\"s3:*\"",
    "\"*\"",
    "Not",
    "IfExists",
    "ForAllValues:",
    "::",
    "/",
    "\\u0000",
    "é",
    "\u{10FFFF}",
];

/// Edits that keep a JSON string a JSON string, so most gently mutated documents still
/// parse and their evaluation gets exercised too.
const STRING_TOKENS: &[&str] = &[
    "*",
    "?",
    "${aws:username}",
    "${*}",
    "${s3:prefix}",
    "x",
    "/",
    ":",
    "-",
    "0",
    "é",
    "${",
];

const KEYS: &[&str] = &[
    "aws:SourceIp",
    "s3:prefix",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "s3:max-keys",
    "s3:RequestObjectTagKeys",
    "aws:TagKeys",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:UserAgent",
    "aws:PrincipalTag/team",
    "s3:x-amz-server-side-encryption",
    "aws:MultiFactorAuthPresent",
    "s3:signatureAge",
    "AWS:USERNAME",
    "aws:PrincipalArn",
];

const VALUES: &[&str] = &[
    "",
    "10.1.2.3",
    "2001:db8::1",
    "::ffff:10.0.0.1",
    "[::1]",
    "true",
    "FALSE",
    "2020-06-01T00:00:00Z",
    "1700000000",
    "-5",
    "1e308",
    "NaN",
    "home/alice/x",
    "arn:aws:s3:::src1",
    "abc",
    "*",
    "?",
    "${aws:username}",
    "é",
];

fn principal() -> impl Strategy<Value = (u8, String)> {
    (0u8..3, prop_oneof![Just("alice".to_owned()), ".{0,12}"])
}

fn with_principal<R>(kind: u8, name: &str, f: impl FnOnce(Principal<'_>) -> R) -> R {
    f(match kind {
        0 => Principal::Anonymous,
        1 => Principal::Root { canonical_id: name },
        _ => Principal::User {
            name,
            canonical_id: "abc",
            user_id: name,
        },
    })
}

fn context() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![select(KEYS).prop_map(str::to_owned), "[a-zA-Z:/]{0,20}"],
            prop_oneof![select(VALUES).prop_map(str::to_owned), ".{0,24}"],
        ),
        0..8,
    )
}

fn action() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "s3:GetObject",
                "S3:getobject",
                "s3:PutObject",
                "s3:ListBucket",
                "iam:CreateAccessKey",
                "iam:ListUsers"
            ][..]
        )
        .prop_map(str::to_owned),
        ".{0,20}",
    ]
}

fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "arn:aws:s3:::bucket",
                "arn:aws:s3:::bucket/alice/x",
                "arn:aws:s3:::bucket/public/y",
                "arn:aws:s3:::bucket/abcde",
                "arn:aws:iam::000000000000:user/alice",
            ][..]
        )
        .prop_map(str::to_owned),
        "arn:aws:s3:::bucket/.{0,30}",
        ".{0,30}",
    ]
}

fn evaluate(policy: &Policy, kind: u8, name: &str, action: &str, resource: &str, keys: &[(String, String)]) -> Outcome {
    let mut context = Context::new();
    for (k, v) in keys {
        context.insert(k, v.as_str());
    }
    with_principal(kind, name, |principal| {
        policy.evaluate(&Request {
            account: "000000000000",
            principal,
            action,
            resource,
            context: &context,
        })
    })
}

/// Applies edits (delete, insert, replace, duplicate) at positions chosen by `Index`.
fn mutate(doc: &str, edits: &[(Index, u8, &str, usize)]) -> String {
    let mut chars: Vec<char> = doc.chars().collect();
    for (at, op, token, len) in edits {
        let i = at.index(chars.len() + 1);
        let end = (i + len).min(chars.len());
        match op {
            0 => {
                chars.drain(i..end);
            }
            1 => {
                chars.splice(i..i, token.chars());
            }
            2 => {
                chars.splice(i..end, token.chars());
            }
            _ => {
                let copy: Vec<char> = chars[i..end].to_vec();
                chars.splice(i..i, copy);
            }
        }
    }
    chars.into_iter().collect()
}

/// Inserts string-safe tokens inside string literals of `doc` (or deletes a character there).
fn mutate_strings(doc: &str, edits: &[(Index, &str, bool)]) -> String {
    let mut chars: Vec<char> = doc.chars().collect();
    for (at, token, delete) in edits {
        // Positions strictly inside a string literal (no escapes in the corpus).
        let mut inside = Vec::new();
        let mut in_string = false;
        for (i, c) in chars.iter().enumerate() {
            if *c == '"' {
                in_string = !in_string;
            } else if in_string {
                inside.push(i);
            }
        }
        if inside.is_empty() {
            break;
        }
        let i = inside[at.index(inside.len())];
        if *delete {
            chars.remove(i);
        } else {
            chars.splice(i..i, token.chars());
        }
    }
    chars.into_iter().collect()
}

/// A random valid bucket-policy statement, built from valid parts.
fn statement() -> impl Strategy<Value = String> {
    let effect = select(&["Allow", "Deny"][..]);
    let principal = select(
        &[
            r#""Principal":"*""#,
            r#""Principal":{"AWS":"*"}"#,
            r#""Principal":{"AWS":["000000000000","arn:aws:iam::000000000000:user/alice"]}"#,
            r#""NotPrincipal":{"AWS":"arn:aws:iam::000000000000:root"}"#,
            r#""Principal":{"CanonicalUser":"abc"}"#,
        ][..],
    );
    let action = select(
        &[
            r#""Action":"*""#,
            r#""Action":["s3:Get*","s3:PutObject"]"#,
            r#""NotAction":"s3:?etObject""#,
        ][..],
    );
    let resource = (
        any::<bool>(),
        "[a-z*?/]{0,8}",
        select(&["", "${aws:username}", "${*}", "${s3:prefix}"][..]),
    )
        .prop_map(|(not, tail, var)| {
            format!(
                r#""{}Resource":"arn:aws:s3:::bucket/{tail}{var}""#,
                if not { "Not" } else { "" }
            )
        });
    let condition = prop::collection::vec(
        (
            select(&["", "ForAnyValue:", "ForAllValues:"][..]),
            select(
                &[
                    ("StringEquals", "s"),
                    ("StringNotLike", "s"),
                    ("StringEqualsIgnoreCase", "s"),
                    ("StringLike", "s"),
                    ("ArnLike", "s"),
                    ("ArnNotEquals", "s"),
                    ("NumericLessThan", "n"),
                    ("NumericNotEquals", "n"),
                    ("DateGreaterThanEquals", "d"),
                    ("DateNotEquals", "d"),
                    ("IpAddress", "i"),
                    ("NotIpAddress", "i"),
                    ("Bool", "b"),
                    ("BinaryEquals", "64"),
                ][..],
            ),
            any::<bool>(),
            select(KEYS),
            prop_oneof![select(VALUES).prop_map(str::to_owned), "[a-z0-9*?$/{}.:-]{0,12}",],
        ),
        0..4,
    )
    .prop_map(|conds| {
        // Operator -> key -> value: a block names each operator once, an operator each key once.
        let mut block: BTreeMap<String, BTreeMap<&str, String>> = BTreeMap::new();
        for (set, (op, kind), if_exists, key, text) in conds {
            let value = match kind {
                "s" => json_string(&text),
                "n" => r#""-2.5""#.to_owned(),
                "d" => r#""2020-06-01T00:00:00Z""#.to_owned(),
                "i" => r#"["10.0.0.0/8","2001:db8::/32"]"#.to_owned(),
                "b" => r#""true""#.to_owned(),
                _ => r#""YWJj""#.to_owned(),
            };
            let suffix = if if_exists { "IfExists" } else { "" };
            block
                .entry(format!("{set}{op}{suffix}"))
                .or_default()
                .insert(key, value);
        }
        if block.is_empty() {
            return String::new();
        }
        let ops: Vec<String> = block
            .into_iter()
            .map(|(op, keys)| {
                let keys: Vec<String> = keys.into_iter().map(|(k, v)| format!(r#""{k}":{v}"#)).collect();
                format!(r#""{op}":{{{}}}"#, keys.join(","))
            })
            .collect();
        format!(r#","Condition":{{{}}}"#, ops.join(","))
    });
    (effect, principal, action, resource, condition).prop_map(|(effect, principal, action, resource, condition)| {
        format!(r#"{{"Effect":"{effect}",{principal},{action},{resource}{condition}}}"#)
    })
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(doc in prop_oneof![any::<String>(), r#"[{}\[\]":,*?$ a-zA-Z0-9./\-]{0,300}"#]) {
        let _ = parse(&doc, Scope::Bucket(BUCKET));
        let _ = parse(&doc, Scope::Identity);
    }

    #[test]
    fn mutated_policies_never_panic(
        which in 0..CORPUS.len(),
        edits in prop::collection::vec((any::<Index>(), 0u8..4, select(TOKENS), 1usize..12), 1..6),
        (kind, name) in principal(),
        action in action(),
        resource in resource(),
        keys in context(),
    ) {
        let (doc, bucket) = CORPUS[which];
        let doc = mutate(doc, &edits);
        let scope = if bucket { Scope::Bucket(BUCKET) } else { Scope::Identity };
        if let Ok(policy) = parse(&doc, scope) {
            let _ = policy.is_public();
            let _ = evaluate(&policy, kind, &name, &action, &resource, &keys);
        }
    }

    #[test]
    fn gently_mutated_policies_never_panic(
        which in 0..CORPUS.len(),
        edits in prop::collection::vec((any::<Index>(), select(STRING_TOKENS), any::<bool>()), 1..4),
        (kind, name) in principal(),
        action in action(),
        resource in resource(),
        keys in context(),
    ) {
        let (doc, bucket) = CORPUS[which];
        let doc = mutate_strings(doc, &edits);
        let scope = if bucket { Scope::Bucket(BUCKET) } else { Scope::Identity };
        if let Ok(policy) = parse(&doc, scope) {
            let _ = policy.is_public();
            let _ = evaluate(&policy, kind, &name, &action, &resource, &keys);
        }
    }

    /// Random valid policies: they parse, and evaluating them never panics.
    #[test]
    fn generated_policies_evaluate(
        statements in prop::collection::vec(statement(), 1..6),
        requests in prop::collection::vec((principal(), action(), resource(), context()), 1..8),
    ) {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
        let policy = parse(&doc, Scope::Bucket(BUCKET));
        prop_assert!(policy.is_ok(), "{:?}\n{}", policy.err(), doc);
        let policy = policy.unwrap();
        let _ = policy.is_public();
        for ((kind, name), action, resource, keys) in requests {
            let _ = evaluate(&policy, kind, &name, &action, &resource, &keys);
        }
    }

    /// Evaluating a set of policies together is evaluating each and combining (a Deny
    /// in any wins, then an Allow in any).
    #[test]
    fn evaluate_all_combines_each_policys_outcome(
        policies in prop::collection::vec(prop::collection::vec(statement(), 1..4), 1..5),
        ((kind, name), action, resource, keys) in (principal(), action(), resource(), context()),
    ) {
        let parsed: Vec<Policy> = policies
            .iter()
            .map(|st| parse(&format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, st.join(",")), Scope::Bucket(BUCKET)).unwrap())
            .collect();
        let each: Vec<Outcome> = parsed.iter().map(|p| evaluate(p, kind, &name, &action, &resource, &keys)).collect();
        let expected = if each.contains(&Outcome::Deny) {
            Outcome::Deny
        } else if each.contains(&Outcome::Allow) {
            Outcome::Allow
        } else {
            Outcome::NotApplicable
        };
        let mut context = Context::new();
        for (k, v) in &keys {
            context.insert(k, v.as_str());
        }
        let together = with_principal(kind, &name, |principal| {
            Policy::evaluate_all(&parsed, &Request { account: "000000000000", principal, action: &action, resource: &resource, context: &context })
        });
        prop_assert_eq!(together, expected);
    }

    #[test]
    fn arbitrary_requests_never_panic(
        (kind, name) in principal(),
        action in action(),
        resource in resource(),
        keys in context(),
    ) {
        for (doc, bucket) in CORPUS {
            let scope = if *bucket { Scope::Bucket(BUCKET) } else { Scope::Identity };
            let policy = parse(doc, scope).expect("corpus policies are valid");
            let first = evaluate(&policy, kind, &name, &action, &resource, &keys);
            prop_assert_eq!(first, evaluate(&policy, kind, &name, &action, &resource, &keys));
        }
    }

    /// An unconditional Deny for everyone on the whole bucket beats whatever else the
    /// policy says, for every request on the bucket.
    #[test]
    fn unconditional_deny_wins(
        (kind, name) in principal(),
        action in action(),
        key in "[a-z/]{0,20}",
        keys in context(),
    ) {
        let (doc, _) = CORPUS[0];
        let deny = r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":["arn:aws:s3:::bucket","arn:aws:s3:::bucket/*"]},"#;
        let doc = doc.replacen("\"Statement\":[", &format!("\"Statement\":[{deny}"), 1);
        let policy = parse(&doc, Scope::Bucket(BUCKET)).expect("valid");
        let resource = if key.is_empty() { "arn:aws:s3:::bucket".to_owned() } else { format!("arn:aws:s3:::bucket/{key}") };
        prop_assert_eq!(evaluate(&policy, kind, &name, &action, &resource, &keys), Outcome::Deny);
    }

    #[test]
    fn context_keys_ignore_case(key in "[a-zA-Z0-9:/_-]{1,30}", value in ".{0,10}") {
        let mut context = Context::new();
        context.insert(&key, value.as_str());
        prop_assert_eq!(context.get(&key.to_uppercase()), &[value.clone()][..]);
        prop_assert_eq!(context.get(&key.to_lowercase()), &[value.clone()][..]);
        context.insert(&key.to_uppercase(), "second");
        prop_assert_eq!(context.get(&key).len(), 2);
    }
}
