//! Condition keys as evaluation sees them: a [`Key`] is resolved once at parse time
//! (the five principal keys are derived from [`Request::principal`], every other key is
//! looked up in the request's [`crate::Context`]), and [`Env`] answers lookups for one
//! request without allocating.

use crate::request::{Principal, Request};

/// A condition key, lowercased at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    UserName,
    UserId,
    PrincipalType,
    PrincipalArn,
    PrincipalAccount,
    Context(Box<str>),
}

impl Key {
    pub(crate) fn new(name: &str) -> Key {
        let lower = name.to_lowercase();
        match lower.as_str() {
            "aws:username" => Key::UserName,
            "aws:userid" => Key::UserId,
            "aws:principaltype" => Key::PrincipalType,
            "aws:principalarn" => Key::PrincipalArn,
            "aws:principalaccount" => Key::PrincipalAccount,
            _ => Key::Context(lower.into_boxed_str()),
        }
    }

    /// The lowercased key name.
    pub(crate) fn name(&self) -> &str {
        match self {
            Key::UserName => "aws:username",
            Key::UserId => "aws:userid",
            Key::PrincipalType => "aws:principaltype",
            Key::PrincipalArn => "aws:principalarn",
            Key::PrincipalAccount => "aws:principalaccount",
            Key::Context(k) => k,
        }
    }
}

/// The values a request has for one key: never empty.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Vals<'r> {
    One(&'r str),
    Many(&'r [String]),
}

impl<'r> Vals<'r> {
    pub(crate) fn iter(self) -> ValsIter<'r> {
        match self {
            Vals::One(v) => ValsIter {
                one: Some(v),
                many: [].iter(),
            },
            Vals::Many(vs) => ValsIter {
                one: None,
                many: vs.iter(),
            },
        }
    }

    /// The value of a single-valued key. Policy variables take only these: "You can't
    /// use a multivalued condition key as a variable" (IAM User Guide, policy variables).
    pub(crate) fn single(self) -> Option<&'r str> {
        match self {
            Vals::One(v) => Some(v),
            Vals::Many([v]) => Some(v),
            Vals::Many(_) => None,
        }
    }
}

pub(crate) struct ValsIter<'r> {
    one: Option<&'r str>,
    many: std::slice::Iter<'r, String>,
}

impl<'r> Iterator for ValsIter<'r> {
    type Item = &'r str;

    fn next(&mut self) -> Option<&'r str> {
        self.one.take().or_else(|| self.many.next().map(String::as_str))
    }
}

/// One request, ready for key lookups.
pub(crate) struct Env<'r> {
    req: &'r Request<'r>,
    principal_arn: Option<&'r str>,
    action: Option<usize>,
}

impl<'r> Env<'r> {
    /// `principal_arn` is the caller's `aws:PrincipalArn` (see [`ArnBuf`]), or `None`
    /// when the policy never reads it or the caller is anonymous; `action` is the
    /// request's action as an index into the known actions (`catalog::action_index`).
    pub(crate) fn new(req: &'r Request<'r>, principal_arn: Option<&'r str>, action: Option<usize>) -> Self {
        Env {
            req,
            principal_arn,
            action,
        }
    }

    pub(crate) fn action_index(&self) -> Option<usize> {
        self.action
    }

    pub(crate) fn request(&self) -> &'r Request<'r> {
        self.req
    }

    pub(crate) fn lookup(&self, key: &Key) -> Option<Vals<'r>> {
        let req = self.req;
        match key {
            Key::UserName => match req.principal {
                Principal::User { name, .. } => Some(Vals::One(name)),
                _ => None,
            },
            // IAM's table of principal key values: an IAM user's unique id; the account
            // root's is the account id; an anonymous caller's is "anonymous".
            Key::UserId => Some(Vals::One(match req.principal {
                Principal::User { user_id, .. } => user_id,
                Principal::Root { .. } => req.account,
                Principal::Anonymous => "anonymous",
            })),
            Key::PrincipalType => Some(Vals::One(match req.principal {
                Principal::User { .. } => "User",
                Principal::Root { .. } => "Account",
                Principal::Anonymous => "Anonymous",
            })),
            Key::PrincipalArn => self.principal_arn.map(Vals::One),
            Key::PrincipalAccount => match req.principal {
                Principal::Anonymous => None,
                _ => Some(Vals::One(req.account)),
            },
            Key::Context(k) => match req.context.context().get_lower(k) {
                [] => None,
                values => Some(Vals::Many(values)),
            },
        }
    }
}

/// Room for `aws:PrincipalArn` on the stack: `arn:aws:iam::<12 digits>:user/<name>` fits
/// for every IAM user name (at most 64 characters); longer ones go to the heap.
pub(crate) struct ArnBuf {
    bytes: [u8; 128],
    heap: String,
}

impl ArnBuf {
    pub(crate) fn new() -> Self {
        ArnBuf {
            bytes: [0; 128],
            heap: String::new(),
        }
    }

    pub(crate) fn principal_arn(&mut self, req: &Request<'_>) -> Option<&str> {
        let parts: [&str; 4] = match req.principal {
            Principal::Anonymous => return None,
            Principal::Root { .. } => ["arn:aws:iam::", req.account, ":root", ""],
            Principal::User { name, .. } => ["arn:aws:iam::", req.account, ":user/", name],
        };
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > self.bytes.len() {
            self.heap = parts.concat();
            return Some(&self.heap);
        }
        let mut at = 0;
        for part in parts {
            self.bytes[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
        // Whole `&str`s were copied, so the bytes are UTF-8.
        std::str::from_utf8(&self.bytes[..len]).ok()
    }
}
