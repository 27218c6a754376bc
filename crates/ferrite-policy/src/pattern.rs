//! Policy strings: wildcard patterns (`*`, `?`) and policy variables (`${aws:username}`,
//! `${s3:prefix}`, `${aws:PrincipalTag/team, 'default'}`, and the escapes `${*}`, `${?}`,
//! `${$}` for literal characters).
//!
//! A string is tokenized once at parse time. Matching resolves the variables of one
//! request into borrowed slices ([`SegBuf`], on the stack for any realistic pattern) and
//! runs an iterative wildcard match: no allocation, no recursion. A variable whose key the
//! request lacks (and that has no default) makes the whole string match nothing: "the
//! resource that includes a policy variable with no value will not match any resource"
//! (IAM User Guide, "Policy variables with no value").

use crate::env::{Env, Key};

#[derive(Debug, Clone)]
pub(crate) enum Tok {
    Lit(Box<str>),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    Quest,
    Var(Var),
}

#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub(crate) key: Key,
    pub(crate) default: Option<Box<str>>,
}

impl Var {
    /// The inside of `${...}`: a key, optionally followed by `, 'default'`.
    fn parse(inner: &str) -> Option<Var> {
        let (key, default) = match inner.split_once(',') {
            Some((key, default)) => {
                let default = default.trim();
                let quoted = default.len() >= 2 && default.starts_with('\'') && default.ends_with('\'');
                if !quoted {
                    return None;
                }
                (key.trim(), Some(default[1..default.len() - 1].into()))
            }
            None => (inner.trim(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        Some(Var {
            key: Key::new(key),
            default,
        })
    }
}

/// Splits `s` into tokens. `vars`: recognise `${...}` (policy version 2012-10-17 only);
/// `wildcards`: `*` and `?` are wildcards (else literal characters).
pub(crate) fn tokenize(s: &str, vars: bool, wildcards: bool) -> Vec<Tok> {
    fn flush(lit: &mut String, toks: &mut Vec<Tok>) {
        if !lit.is_empty() {
            toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
        }
    }
    let mut toks = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if vars
            && rest.starts_with("${")
            && let Some(end) = rest[2..].find('}')
        {
            let inner = &rest[2..2 + end];
            let whole = &rest[..2 + end + 1];
            match inner {
                "*" | "?" | "$" => lit.push_str(inner),
                _ => match Var::parse(inner) {
                    Some(var) => {
                        flush(&mut lit, &mut toks);
                        toks.push(Tok::Var(var));
                    }
                    None => lit.push_str(whole),
                },
            }
            rest = &rest[whole.len()..];
            continue;
        }
        if wildcards && (c == '*' || c == '?') {
            flush(&mut lit, &mut toks);
            if c == '?' {
                toks.push(Tok::Quest);
            } else if !matches!(toks.last(), Some(Tok::Star)) {
                toks.push(Tok::Star);
            }
        } else {
            lit.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut lit, &mut toks);
    toks
}

fn mention(toks: &[Tok], key: &Key) -> bool {
    toks.iter().any(|t| matches!(t, Tok::Var(var) if var.key == *key))
}

fn has_vars(toks: &[Tok]) -> bool {
    toks.iter().any(|t| matches!(t, Tok::Var(_)))
}

/// A wildcard pattern, with fast paths for the shapes policies mostly use.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// `*`
    Any,
    /// No wildcard, no variable.
    Exact(Box<str>),
    /// A literal followed by one trailing `*`: `arn:aws:s3:::bucket/*`, `s3:Get*`.
    Prefix(Box<str>),
    /// Wildcards, no variables.
    Glob(Box<[Tok]>),
    /// With variables, resolved per request.
    Template(Box<[Tok]>),
}

impl Pattern {
    pub(crate) fn new(s: &str, vars: bool) -> Pattern {
        Pattern::from_toks(tokenize(s, vars, true))
    }

    fn from_toks(toks: Vec<Tok>) -> Pattern {
        match toks.as_slice() {
            [] => Pattern::Exact("".into()),
            [Tok::Star] => Pattern::Any,
            [Tok::Lit(l)] => Pattern::Exact(l.clone()),
            [Tok::Lit(l), Tok::Star] => Pattern::Prefix(l.clone()),
            _ if has_vars(&toks) => Pattern::Template(toks.into_boxed_slice()),
            _ => Pattern::Glob(toks.into_boxed_slice()),
        }
    }

    /// The same pattern with its literal text ASCII-lowercased (action names).
    pub(crate) fn to_ascii_lowercase(&self) -> Pattern {
        match self {
            Pattern::Any => Pattern::Any,
            Pattern::Exact(l) => Pattern::Exact(l.to_ascii_lowercase().into()),
            Pattern::Prefix(l) => Pattern::Prefix(l.to_ascii_lowercase().into()),
            Pattern::Glob(toks) | Pattern::Template(toks) => Pattern::from_toks(
                toks.iter()
                    .map(|t| match t {
                        Tok::Lit(l) => Tok::Lit(l.to_ascii_lowercase().into()),
                        other => other.clone(),
                    })
                    .collect(),
            ),
        }
    }

    pub(crate) fn has_wildcard(&self) -> bool {
        match self {
            Pattern::Exact(_) => false,
            Pattern::Any | Pattern::Prefix(_) => true,
            Pattern::Glob(toks) | Pattern::Template(toks) => toks.iter().any(|t| matches!(t, Tok::Star | Tok::Quest)),
        }
    }

    pub(crate) fn has_vars(&self) -> bool {
        matches!(self, Pattern::Template(_))
    }

    /// Whether a variable of the pattern reads `key`.
    pub(crate) fn mentions(&self, key: &Key) -> bool {
        matches!(self, Pattern::Template(toks) if mention(toks, key))
    }

    /// Case-sensitive match; variables resolve against `env`.
    pub(crate) fn matches(&self, s: &str, env: &Env<'_>) -> bool {
        self.matches_with(s, Some(env), false)
    }

    /// ASCII-case-insensitive match of a variable-free pattern whose literal text is
    /// already lowercase (see [`Pattern::to_ascii_lowercase`]).
    pub(crate) fn matches_ascii_ci(&self, s: &str) -> bool {
        self.matches_with(s, None, true)
    }

    fn matches_with(&self, s: &str, env: Option<&Env<'_>>, fold: bool) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(l) if fold => s.eq_ignore_ascii_case(l),
            Pattern::Exact(l) => s == &**l,
            Pattern::Prefix(l) if fold => s.get(..l.len()).is_some_and(|head| head.eq_ignore_ascii_case(l)),
            Pattern::Prefix(l) => s.starts_with(&**l),
            Pattern::Glob(toks) => glob(toks, s, fold),
            Pattern::Template(toks) => {
                let mut segs = SegBuf::new();
                resolve(toks, env, &mut segs) && glob(segs.as_slice(), s, fold)
            }
        }
    }
}

/// A string compared whole (no wildcards), possibly with variables.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Plain(Box<str>),
    Vars(Box<[Tok]>),
}

impl Text {
    pub(crate) fn new(s: &str, vars: bool) -> Text {
        let toks = tokenize(s, vars, false);
        if has_vars(&toks) {
            return Text::Vars(toks.into_boxed_slice());
        }
        let mut plain = String::with_capacity(s.len());
        for t in &toks {
            if let Tok::Lit(l) = t {
                plain.push_str(l);
            }
        }
        Text::Plain(plain.into_boxed_str())
    }

    /// The same text with its literal parts lowercased (for the `IgnoreCase` operators).
    pub(crate) fn to_lowercase(&self) -> Text {
        match self {
            Text::Plain(p) => Text::Plain(p.to_lowercase().into()),
            Text::Vars(toks) => Text::Vars(
                toks.iter()
                    .map(|t| match t {
                        Tok::Lit(l) => Tok::Lit(l.to_lowercase().into()),
                        other => other.clone(),
                    })
                    .collect(),
            ),
        }
    }

    /// A fixed value: no variable and nothing that looks like a wildcard.
    pub(crate) fn is_fixed(&self) -> bool {
        matches!(self, Text::Plain(p) if !p.contains(['*', '?']))
    }

    pub(crate) fn plain(&self) -> Option<&str> {
        match self {
            Text::Plain(p) => Some(p),
            Text::Vars(_) => None,
        }
    }

    pub(crate) fn has_vars(&self) -> bool {
        matches!(self, Text::Vars(_))
    }

    /// Whether a variable of the text reads `key`.
    pub(crate) fn mentions(&self, key: &Key) -> bool {
        matches!(self, Text::Vars(toks) if mention(toks, key))
    }

    /// Exact, case-sensitive equality.
    pub(crate) fn equals(&self, s: &str, env: &Env<'_>) -> bool {
        match self {
            Text::Plain(p) => s == &**p,
            Text::Vars(toks) => {
                let mut segs = SegBuf::new();
                if !resolve(toks, Some(env), &mut segs) {
                    return false;
                }
                let mut rest = s;
                for seg in segs.as_slice() {
                    match seg {
                        Seg::Lit(l) => match rest.strip_prefix(l) {
                            Some(r) => rest = r,
                            None => return false,
                        },
                        Seg::Star | Seg::Quest => return false,
                    }
                }
                rest.is_empty()
            }
        }
    }

    /// Equality ignoring case (Unicode lowercase); `self` must come from
    /// [`Text::to_lowercase`]. A variable's value is lowercased as it is compared.
    pub(crate) fn equals_ignore_case(&self, s: &str, env: &Env<'_>) -> bool {
        let subject = s.chars().flat_map(char::to_lowercase);
        match self {
            Text::Plain(p) => subject.eq(p.chars()),
            Text::Vars(toks) => {
                let mut segs = SegBuf::new();
                if !resolve(toks, Some(env), &mut segs) {
                    return false;
                }
                let pieces = segs.as_slice().iter().map(|seg| match seg {
                    Seg::Lit(l) => *l,
                    Seg::Star | Seg::Quest => "",
                });
                subject.eq(pieces.flat_map(str::chars).flat_map(char::to_lowercase))
            }
        }
    }
}

/// An ARN pattern for the `Arn*` condition operators: "Each of the six colon-delimited
/// components of the ARN is checked separately and each can include multi-character
/// match wildcards (*) or single-character match wildcards (?)" (IAM User Guide,
/// condition operators). The last component takes the rest of the value, colons
/// included, so `*` alone matches any value.
#[derive(Debug, Clone)]
pub(crate) struct ArnPattern {
    parts: Box<[Pattern]>,
}

impl ArnPattern {
    pub(crate) fn new(s: &str, vars: bool) -> ArnPattern {
        let mut parts: Vec<Vec<Tok>> = vec![Vec::new()];
        for tok in tokenize(s, vars, true) {
            match tok {
                Tok::Lit(lit) if parts.len() < 6 && lit.contains(':') => {
                    let mut pieces = lit.split(':');
                    if let Some(first) = pieces.next() {
                        push_lit(parts.last_mut(), first);
                    }
                    for piece in pieces {
                        if parts.len() < 6 {
                            parts.push(Vec::new());
                            push_lit(parts.last_mut(), piece);
                        } else {
                            push_lit(parts.last_mut(), ":");
                            push_lit(parts.last_mut(), piece);
                        }
                    }
                }
                other => {
                    if let Some(last) = parts.last_mut() {
                        last.push(other);
                    }
                }
            }
        }
        ArnPattern {
            parts: parts.into_iter().map(Pattern::from_toks).collect(),
        }
    }

    /// Whether a variable of the pattern reads `key`.
    pub(crate) fn mentions(&self, key: &Key) -> bool {
        self.parts.iter().any(|p| p.mentions(key))
    }

    /// Fixed: no variables and no wildcards in any component.
    pub(crate) fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| !p.has_wildcard() && !p.has_vars())
    }

    /// Components (0-based) that contain a wildcard or a variable.
    pub(crate) fn loose_parts(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.has_wildcard() || p.has_vars())
            .map(|(i, _)| i)
    }

    pub(crate) fn matches(&self, s: &str, env: &Env<'_>) -> bool {
        let mut values = s.splitn(self.parts.len(), ':');
        self.parts
            .iter()
            .all(|p| values.next().is_some_and(|v| p.matches(v, env)))
    }
}

fn push_lit(toks: Option<&mut Vec<Tok>>, s: &str) {
    let Some(toks) = toks else { return };
    if s.is_empty() {
        return;
    }
    match toks.last_mut() {
        Some(Tok::Lit(prev)) => *prev = format!("{prev}{s}").into_boxed_str(),
        _ => toks.push(Tok::Lit(s.into())),
    }
}

/// A piece of a resolved pattern.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    Lit(&'a str),
    Star,
    Quest,
}

/// The resolved segments of one pattern: inline for up to 16 segments, on the heap
/// beyond (patterns with that many wildcards or variables are rare).
pub(crate) struct SegBuf<'a> {
    inline: [Seg<'a>; 16],
    len: usize,
    spill: Vec<Seg<'a>>,
}

impl<'a> SegBuf<'a> {
    fn new() -> Self {
        SegBuf {
            inline: [Seg::Star; 16],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, seg: Seg<'a>) {
        if self.spill.is_empty() && self.len < self.inline.len() {
            self.inline[self.len] = seg;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline[..self.len]);
            }
            self.spill.push(seg);
        }
    }

    fn as_slice(&self) -> &[Seg<'a>] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

/// Substitutes variables; false when one has no value (and no default).
fn resolve<'a>(toks: &'a [Tok], env: Option<&Env<'a>>, out: &mut SegBuf<'a>) -> bool {
    for tok in toks {
        let seg = match tok {
            Tok::Lit(l) => Seg::Lit(l),
            Tok::Star => Seg::Star,
            Tok::Quest => Seg::Quest,
            Tok::Var(var) => {
                let value = env.and_then(|env| env.lookup(&var.key)).and_then(|v| v.single());
                match value.or(var.default.as_deref()) {
                    Some(v) => Seg::Lit(v),
                    None => return false,
                }
            }
        };
        out.push(seg);
    }
    true
}

/// A pattern piece as the matcher sees it: a resolved [`Seg`], or a variable-free
/// [`Tok`] used in place (so patterns without variables need no [`SegBuf`]).
trait AsSeg {
    /// `None` for an unresolved variable, which matches nothing.
    fn as_seg(&self) -> Option<Seg<'_>>;
}

impl AsSeg for Seg<'_> {
    fn as_seg(&self) -> Option<Seg<'_>> {
        Some(*self)
    }
}

impl AsSeg for Tok {
    fn as_seg(&self) -> Option<Seg<'_>> {
        match self {
            Tok::Lit(l) => Some(Seg::Lit(l)),
            Tok::Star => Some(Seg::Star),
            Tok::Quest => Some(Seg::Quest),
            Tok::Var(_) => None,
        }
    }
}

/// Wildcard match of `s` against `segs`. The pattern is cut at its `*`s into chunks of
/// literals and `?`s, each matching a fixed number of characters: the first chunk must
/// match at the start, the last at the end, and each middle chunk is placed at its
/// leftmost occurrence (which is never worse than a later one, as the next `*` absorbs
/// the difference). Literal chunks are found with `str::find`; no recursion, no
/// allocation. `fold`: ASCII case-insensitive (pattern literals already lowercase).
fn glob<T: AsSeg>(segs: &[T], s: &str, fold: bool) -> bool {
    let mut chunks = segs.split(|g| matches!(g.as_seg(), Some(Seg::Star)));
    let first = chunks.next().unwrap_or(&[]);
    let Some(mut pos) = match_at(first, s, 0, fold) else {
        return false;
    };
    let Some(mut chunk) = chunks.next() else {
        // No `*`: the first chunk is the whole pattern.
        return pos == s.len();
    };
    for next in chunks {
        match find(chunk, s, pos, fold) {
            Some(end) => pos = end,
            None => return false,
        }
        chunk = next;
    }
    match_suffix(chunk, s, pos, fold)
}

/// Where `chunk` (no `*`) ends if it matches `s` at byte `pos`.
fn match_at<T: AsSeg>(chunk: &[T], s: &str, mut pos: usize, fold: bool) -> Option<usize> {
    for seg in chunk {
        match seg.as_seg()? {
            Seg::Lit(l) => {
                let here = s.as_bytes().get(pos..pos + l.len())?;
                let same = if fold {
                    here.eq_ignore_ascii_case(l.as_bytes())
                } else {
                    here == l.as_bytes()
                };
                if !same {
                    return None;
                }
                pos += l.len();
            }
            Seg::Quest => pos += s.get(pos..)?.chars().next()?.len_utf8(),
            Seg::Star => return None,
        }
    }
    Some(pos)
}

/// The end of the leftmost match of `chunk` at or after `pos`.
fn find<T: AsSeg>(chunk: &[T], s: &str, mut pos: usize, fold: bool) -> Option<usize> {
    let lead = match chunk.first().and_then(AsSeg::as_seg) {
        Some(Seg::Lit(l)) if !fold && !l.is_empty() => Some(l),
        _ => None,
    };
    loop {
        if let Some(lead) = lead {
            pos += find_literal(s.as_bytes().get(pos..)?, lead.as_bytes())?;
        }
        if let Some(end) = match_at(chunk, s, pos, fold) {
            return Some(end);
        }
        pos += s.get(pos..)?.chars().next()?.len_utf8();
    }
}

/// The first occurrence of `needle` (non-empty) in `hay`. Policy literals are short, so
/// a scan for the first byte beats setting up `str::find`'s two-way searcher. A match
/// starts on a character boundary because `needle` is itself a `&str`.
fn find_literal(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut at = 0;
    while at <= last_start {
        at += hay[at..=last_start].iter().position(|&b| b == first)?;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// Whether `chunk` matches the end of `s`, starting at or after `pos`.
fn match_suffix<T: AsSeg>(chunk: &[T], s: &str, pos: usize, fold: bool) -> bool {
    // The chunk's length in characters, then the byte where that many characters
    // before the end begin.
    let chars: usize = chunk
        .iter()
        .map(|g| match g.as_seg() {
            Some(Seg::Lit(l)) => l.chars().count(),
            Some(Seg::Quest) => 1,
            Some(Seg::Star) | None => 0,
        })
        .sum();
    let Some(tail) = s.get(pos..) else { return false };
    let start = if chars == 0 {
        s.len()
    } else {
        match tail.char_indices().rev().nth(chars - 1) {
            Some((i, _)) => pos + i,
            None => return false,
        }
    };
    match_at(chunk, s, start, fold) == Some(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Context, Principal, Request};

    fn with_env<R>(ctx: &Context, f: impl FnOnce(&Env<'_>) -> R) -> R {
        let req = Request {
            account: "000000000000",
            principal: Principal::User {
                name: "alice",
                canonical_id: "c",
                user_id: "AIDAEXAMPLE",
            },
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/k",
            context: ctx,
        };
        f(&Env::new(&req, None, None))
    }

    fn m(pattern: &str, s: &str) -> bool {
        with_env(&Context::new(), |env| Pattern::new(pattern, true).matches(s, env))
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("a*", "a"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("a*b?d", "axxbcd"));
        assert!(m("??", "éü"));
        assert!(!m("abc", "ABC"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("**", "x"));
    }

    #[test]
    fn variables_and_escapes() {
        assert!(m("home/${aws:username}/*", "home/alice/x"));
        assert!(!m("home/${aws:username}/*", "home/bob/x"));
        assert!(m("a${*}b", "a*b"));
        assert!(!m("a${*}b", "axxb"));
        assert!(m("a${?}b${$}", "a?b$"));
        // A key the request lacks matches nothing, unless a default is given.
        assert!(!m("x/${aws:PrincipalTag/team}", "x/"));
        assert!(m("x/${aws:PrincipalTag/team, 'company-wide'}", "x/company-wide"));
        // Unterminated or empty: literal text.
        assert!(m("a${", "a${"));
        assert!(m("${}", "${}"));
        // Variables are text only in 2012-10-17 policies.
        assert!(with_env(&Context::new(), |env| Pattern::new("${aws:username}", false)
            .matches("${aws:username}", env)));
    }

    /// The textbook recursive definition, as the oracle for `glob`.
    fn reference(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
            Some(('?', rest)) => !s.is_empty() && reference(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_the_reference(p in "[ab?*é]{0,9}", s in "[abé]{0,12}") {
            let pc: Vec<char> = p.chars().collect();
            let sc: Vec<char> = s.chars().collect();
            proptest::prop_assert_eq!(m(&p, &s), reference(&pc, &sc), "pattern {:?} subject {:?}", p, s);
        }

        #[test]
        fn folded_glob_agrees_with_the_reference(p in "[ab?*]{0,9}", s in "[abAB]{0,12}") {
            let pattern = Pattern::new(&p, false).to_ascii_lowercase();
            let pc: Vec<char> = p.chars().collect();
            let sc: Vec<char> = s.to_ascii_lowercase().chars().collect();
            proptest::prop_assert_eq!(pattern.matches_ascii_ci(&s), reference(&pc, &sc));
        }

        #[test]
        fn templates_agree_with_the_reference(p in "[ab?*]{0,5}", s in "[ab]{0,10}") {
            // The same pattern with its literal text behind a variable resolves and matches alike.
            let mut ctx = Context::new();
            ctx.insert("s3:prefix", "ab");
            let with_var = format!("{p}${{s3:prefix}}{p}");
            let plain = format!("{p}ab{p}");
            let pc: Vec<char> = plain.chars().collect();
            let sc: Vec<char> = s.chars().collect();
            let got = with_env(&ctx, |env| Pattern::new(&with_var, true).matches(&s, env));
            proptest::prop_assert_eq!(got, reference(&pc, &sc));
        }
    }

    #[test]
    fn case_insensitive_actions() {
        let p = Pattern::new("Get*Acl", false).to_ascii_lowercase();
        assert!(p.matches_ascii_ci("GETOBJECTACL"));
        assert!(!p.matches_ascii_ci("GetObject"));
    }

    #[test]
    fn arn_components() {
        let matches = |p: &str, s: &str| with_env(&Context::new(), |env| ArnPattern::new(p, true).matches(s, env));
        // The IAM User Guide's example: StringLike matches, ArnLike does not.
        let p = "arn:aws:someservice:*:111122223333:finance/*";
        let v = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(!matches(p, v));
        assert!(m(p, v));
        assert!(matches("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b"));
        assert!(matches("*", "arn:aws:s3:::x"));
        assert!(matches(
            "arn:aws:iam::*:user/${aws:username}",
            "arn:aws:iam::000000000000:user/alice"
        ));
        assert!(!matches(
            "arn:aws:iam::*:user/${aws:username}",
            "arn:aws:iam::000000000000:user/bob"
        ));
        assert!(!matches("arn:aws:s3:::b", "arn:aws:s3::"));
    }

    #[test]
    fn text_equality() {
        let mut ctx = Context::new();
        ctx.insert("s3:prefix", "Home/");
        with_env(&ctx, |env| {
            assert!(Text::new("home/${aws:username}", true).equals("home/alice", env));
            assert!(!Text::new("home/${aws:username}", true).equals("home/alice/", env));
            assert!(Text::new("a*", true).equals("a*", env));
            assert!(!Text::new("a*", true).equals("ab", env));
            let ic = Text::new("HOME/${aws:username}", true).to_lowercase();
            assert!(ic.equals_ignore_case("home/ALICE", env));
            assert!(Text::new("${s3:prefix}", true).equals("Home/", env));
        });
    }
}
