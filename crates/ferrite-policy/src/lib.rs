//! TEMPORARY STUB with the agreed API; replaced by the real crate at merge.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;
pub enum Scope<'a> { Bucket(&'a str), Identity }
#[derive(Debug, thiserror::Error)]
pub enum PolicyError { #[error("too large: {size}")] TooLarge { size: usize }, #[error("{0}")] Malformed(String) }
#[derive(Debug, Clone)] pub struct Policy { allow_all: bool }
pub fn parse(doc: &str, _scope: Scope<'_>) -> Result<Policy, PolicyError> {
    if doc.len() > MAX_POLICY_BYTES { return Err(PolicyError::TooLarge { size: doc.len() }); }
    let v: serde_json::Value = serde_json::from_str(doc).map_err(|_| PolicyError::Malformed("This policy contains invalid Json".into()))?;
    Ok(Policy { allow_all: v.to_string().contains("\"Allow\"") })
}
impl Policy {
    pub fn evaluate(&self, _req: &Request<'_>) -> Outcome { if self.allow_all { Outcome::Allow } else { Outcome::Deny } }
    pub fn is_public(&self) -> bool { false }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)] pub enum Outcome { NotApplicable, Allow, Deny }
pub struct Request<'a> { pub account: &'a str, pub principal: Principal<'a>, pub action: &'a str, pub resource: &'a str, pub context: &'a Context }
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> { Anonymous, Root { canonical_id: &'a str }, User { name: &'a str, canonical_id: &'a str, user_id: &'a str } }
#[derive(Debug, Clone, Default)] pub struct Context { v: Vec<(String, Vec<String>)> }
impl Context {
    pub fn new() -> Self { Self::default() }
    pub fn insert(&mut self, key: &str, value: impl Into<String>) { let k = key.to_ascii_lowercase(); match self.v.iter_mut().find(|(x, _)| *x == k) { Some((_, vs)) => vs.push(value.into()), None => self.v.push((k, vec![value.into()])) } }
    pub fn get(&self, key: &str) -> &[String] { let k = key.to_ascii_lowercase(); self.v.iter().find(|(x, _)| *x == k).map(|(_, v)| v.as_slice()).unwrap_or(&[]) }
}
