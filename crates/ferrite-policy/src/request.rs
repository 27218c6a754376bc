//! What a policy is evaluated against: who asks, for what, on which resource, and the
//! request's condition keys.

/// The account-level principal kinds Ferrite has.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    /// An unsigned request.
    Anonymous,
    /// The account itself (the server's administrator).
    Root { canonical_id: &'a str },
    /// An IAM user of the account.
    User {
        name: &'a str,
        canonical_id: &'a str,
        user_id: &'a str,
    },
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The server's account id (`"000000000000"`).
    pub account: &'a str,
    pub principal: Principal<'a>,
    /// The action as IAM names it: `"s3:GetObject"`, `"iam:CreateUser"`.
    pub action: &'a str,
    /// The resource ARN: `"arn:aws:s3:::bucket"`, `"arn:aws:s3:::bucket/key"`,
    /// `"arn:aws:iam::000000000000:user/alice"`.
    pub resource: &'a str,
    /// The request's condition keys, filled by the caller. The principal keys
    /// (`aws:username`, `aws:userid`, `aws:PrincipalType`, `aws:PrincipalArn`,
    /// `aws:PrincipalAccount`) are derived from `principal` and `account` instead; values
    /// for them in the context are ignored. A [`Context`], or a [`ContextSource`] that
    /// builds one only when a condition first asks for a key.
    pub context: &'a dyn ContextSource,
}

/// Where a request's condition keys come from. Evaluation asks only when a statement
/// whose principal, action and resource match has a condition on a request key: most
/// requests never get that far, and a source may put off building its keys until then.
pub trait ContextSource: std::fmt::Debug + Sync {
    fn context(&self) -> &Context;
}

impl ContextSource for Context {
    fn context(&self) -> &Context {
        self
    }
}

/// The condition keys of a request and their values.
///
/// Keys are case-insensitive (stored lowercased); inserting a key again adds a value,
/// which makes the key multi-valued (`s3:RequestObjectTagKeys`, `aws:TagKeys`). A
/// request has a dozen keys or so: a vector with a linear scan beats a map here.
#[derive(Debug, Clone, Default)]
pub struct Context {
    entries: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` to `key`'s values.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| same_key(k, key)) {
            Some((_, values)) => values.push(value),
            None => self.entries.push((key.to_lowercase(), vec![value])),
        }
    }

    /// Makes `value` the only value of `key`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| same_key(k, key)) {
            Some((_, values)) => *values = vec![value],
            None => self.entries.push((key.to_lowercase(), vec![value])),
        }
    }

    /// The values of `key` (any case); empty when the request does not have the key.
    pub fn get(&self, key: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// Lookup by a key that is already lowercased (the parser lowercases every key it
    /// stores), so evaluation compares bytes and allocates nothing.
    pub(crate) fn get_lower(&self, lower: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(k, _)| k == lower)
            .map_or(&[], |(_, v)| v.as_slice())
    }
}

/// `stored` is lowercased; `key` may be in any case.
fn same_key(stored: &str, key: &str) -> bool {
    if key.is_ascii() {
        stored.eq_ignore_ascii_case(key)
    } else {
        stored.chars().eq(key.chars().flat_map(char::to_lowercase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_insert_adds_and_set_replaces() {
        let mut cx = Context::new();
        cx.insert("s3:RequestObjectTagKeys", "a");
        cx.insert("S3:requestobjecttagkeys", "b");
        assert_eq!(cx.get("s3:requestObjectTagKeys"), ["a", "b"]);
        cx.set("s3:prefix", "x/");
        cx.set("S3:Prefix", "y/");
        assert_eq!(cx.get("s3:prefix"), ["y/"]);
        cx.set("s3:RequestObjectTagKeys", "c");
        assert_eq!(cx.get("s3:requestobjecttagkeys"), ["c"]);
        assert!(cx.get("aws:SourceIp").is_empty());
    }
}
