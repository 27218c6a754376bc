//! IAM's XML answers: `<XxxResponse><XxxResult>...</XxxResult><ResponseMetadata>` and
//! `<ErrorResponse>`, in IAM's namespace. Written by hand: a few fixed shapes.

use ferrite_model::{AccessKeyInfo, UserInfo};

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Escapes text for an element's content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name>text</name>`, escaped.
pub fn element(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", escape(text))
}

/// ISO 8601 in UTC with seconds, as IAM writes dates.
pub fn date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&format).unwrap_or_default()
}

/// A whole successful answer. `result` is the inside of `<{action}Result>`, or `None`
/// for actions that answer with metadata only (DeleteUser, UpdateAccessKey, ...).
pub fn response(action: &str, result: Option<&str>, request_id: &str) -> String {
    let result = match result {
        Some(r) => format!("<{action}Result>{r}</{action}Result>"),
        None => String::new(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\">{result}\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    )
}

/// IAM's error body. `sender` is false for the server's own failures.
pub fn error(code: &str, message: &str, sender: bool, request_id: &str) -> String {
    let kind = if sender { "Sender" } else { "Receiver" };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{kind}</Type>\
         {}{}</Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        element("Code", code),
        element("Message", message)
    )
}

pub fn user(u: &UserInfo, account: &str) -> String {
    format!(
        "<User><Path>/</Path>{}{}{}{}</User>",
        element("UserName", &u.name),
        element("UserId", &u.user_id),
        element("Arn", &format!("arn:aws:iam::{account}:user/{}", u.name)),
        element("CreateDate", &date(u.created_ms)),
    )
}

/// The root user, as GetUser without a user name describes its caller: the account's
/// id and root ARN (no creation date is known: root is configured, not created).
pub fn root_user(account: &str) -> String {
    format!(
        "<User>{}{}</User>",
        element("UserId", account),
        element("Arn", &format!("arn:aws:iam::{account}:root")),
    )
}

/// A policy document as IAM returns it: URL-encoded (the SDKs decode it).
pub fn policy_document(doc: &str) -> String {
    percent_encoding::utf8_percent_encode(doc, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A managed policy (`<Policy>` of CreatePolicy/GetPolicy, `<member>` of ListPolicies).
pub fn managed_policy(tag: &str, p: &ferrite_model::ManagedPolicyInfo) -> String {
    format!(
        "<{tag}>{}{}{}<Path>/</Path><DefaultVersionId>v1</DefaultVersionId>{}<PermissionsBoundaryUsageCount>0\
         </PermissionsBoundaryUsageCount><IsAttachable>true</IsAttachable>{}{}{}</{tag}>",
        element("PolicyName", &p.name),
        element("PolicyId", &p.policy_id),
        element("Arn", &p.arn),
        element("AttachmentCount", &p.attachments.to_string()),
        element("Description", &p.description),
        element("CreateDate", &date(p.created_ms)),
        element("UpdateDate", &date(p.created_ms)),
    )
}

/// A key's metadata (`<member>` of ListAccessKeys, or `<AccessKey>` with the secret).
pub fn access_key(tag: &str, k: &AccessKeyInfo, secret: Option<&str>) -> String {
    format!(
        "<{tag}>{}{}{}{}{}</{tag}>",
        element("UserName", &k.user_name),
        element("AccessKeyId", &k.access_key_id),
        element("Status", k.status.as_str()),
        secret.map(|s| element("SecretAccessKey", s)).unwrap_or_default(),
        element("CreateDate", &date(k.created_ms)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_dates_are_iso8601() {
        assert_eq!(element("M", "a<b>&\"c'"), "<M>a&lt;b&gt;&amp;&quot;c&apos;</M>");
        assert_eq!(date(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn responses_and_errors_have_iams_shape() {
        let r = response("GetUser", Some("<User/>"), "RID");
        assert!(r.contains(&format!(
            "<GetUserResponse xmlns=\"{NAMESPACE}\"><GetUserResult><User/></GetUserResult>"
        )));
        assert!(r.ends_with("<ResponseMetadata><RequestId>RID</RequestId></ResponseMetadata></GetUserResponse>"));
        let e = error("NoSuchEntity", "no <user>", true, "RID");
        assert!(e.contains(
            "<Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>no &lt;user&gt;</Message></Error><RequestId>RID</RequestId></ErrorResponse>"
        ));
        assert!(error("ServiceFailure", "x", false, "R").contains("<Type>Receiver</Type>"));
    }
}
