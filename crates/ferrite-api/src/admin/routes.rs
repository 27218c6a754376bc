//! The admin API's routes: one table that the dispatcher matches requests against and
//! that the OpenAPI document (`openapi.json`) is checked against, so that neither can
//! name an endpoint the other lacks.

/// What a route does. Each is one model operation (or the document itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    OpenApi,
    Login,
    WhoAmI,
    Logout,
    ListSessions,
    RevokeSession,
    Presign,
    ServerInfo,
    Metrics,
    ListBuckets,
    GetBucket,
    DeleteBucket,
    PutBucketVersioning,
    PutBucketPolicy,
    DeleteBucketPolicy,
    PutBucketCors,
    DeleteBucketCors,
    PutBucketLifecycle,
    DeleteBucketLifecycle,
    PutBucketEncryption,
    DeleteBucketEncryption,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    PutBucketOwnership,
    DeleteBucketOwnership,
    PutObjectLockDefaults,
    RotateMasterKey,
    MasterKeyStatus,
    ListKmsKeys,
    CreateKmsKey,
    GetKmsKey,
    UpdateKmsKey,
    ListUsers,
    CreateUser,
    GetUser,
    DeleteUser,
    ListAccessKeys,
    CreateAccessKey,
    UpdateAccessKey,
    DeleteAccessKey,
    GetConsolePassword,
    SetConsolePassword,
    DeleteConsolePassword,
    ListInlinePolicies,
    GetInlinePolicy,
    PutInlinePolicy,
    DeleteInlinePolicy,
    ListAttachedPolicies,
    AttachPolicy,
    DetachPolicy,
    ListPolicies,
    CreatePolicy,
    GetPolicy,
    DeletePolicy,
    Simulate,
}

/// A route: method, path pattern (`{name}` matches one non-empty path segment) and
/// what it does.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub op: Op,
}

const fn r(method: &'static str, path: &'static str, op: Op) -> Route {
    Route { method, path, op }
}

/// Every admin endpoint.
pub const ROUTES: &[Route] = &[
    r("GET", "/admin/v1/openapi.json", Op::OpenApi),
    r("POST", "/admin/v1/session", Op::Login),
    r("GET", "/admin/v1/session", Op::WhoAmI),
    r("DELETE", "/admin/v1/session", Op::Logout),
    r("GET", "/admin/v1/sessions", Op::ListSessions),
    r("DELETE", "/admin/v1/sessions/{session}", Op::RevokeSession),
    r("POST", "/admin/v1/presign", Op::Presign),
    r("GET", "/admin/v1/info", Op::ServerInfo),
    r("GET", "/admin/v1/metrics", Op::Metrics),
    r("GET", "/admin/v1/buckets", Op::ListBuckets),
    r("GET", "/admin/v1/buckets/{bucket}", Op::GetBucket),
    r("DELETE", "/admin/v1/buckets/{bucket}", Op::DeleteBucket),
    r("PUT", "/admin/v1/buckets/{bucket}/versioning", Op::PutBucketVersioning),
    r("PUT", "/admin/v1/buckets/{bucket}/policy", Op::PutBucketPolicy),
    r("DELETE", "/admin/v1/buckets/{bucket}/policy", Op::DeleteBucketPolicy),
    r("PUT", "/admin/v1/buckets/{bucket}/cors", Op::PutBucketCors),
    r("DELETE", "/admin/v1/buckets/{bucket}/cors", Op::DeleteBucketCors),
    r("PUT", "/admin/v1/buckets/{bucket}/lifecycle", Op::PutBucketLifecycle),
    r(
        "DELETE",
        "/admin/v1/buckets/{bucket}/lifecycle",
        Op::DeleteBucketLifecycle,
    ),
    r("PUT", "/admin/v1/buckets/{bucket}/encryption", Op::PutBucketEncryption),
    r(
        "DELETE",
        "/admin/v1/buckets/{bucket}/encryption",
        Op::DeleteBucketEncryption,
    ),
    r(
        "PUT",
        "/admin/v1/buckets/{bucket}/public-access-block",
        Op::PutPublicAccessBlock,
    ),
    r(
        "DELETE",
        "/admin/v1/buckets/{bucket}/public-access-block",
        Op::DeletePublicAccessBlock,
    ),
    r("PUT", "/admin/v1/buckets/{bucket}/ownership", Op::PutBucketOwnership),
    r(
        "DELETE",
        "/admin/v1/buckets/{bucket}/ownership",
        Op::DeleteBucketOwnership,
    ),
    r(
        "PUT",
        "/admin/v1/buckets/{bucket}/object-lock",
        Op::PutObjectLockDefaults,
    ),
    r("POST", "/admin/v1/kms/rotate", Op::RotateMasterKey),
    r("GET", "/admin/v1/kms/master-key", Op::MasterKeyStatus),
    r("GET", "/admin/v1/kms/keys", Op::ListKmsKeys),
    r("POST", "/admin/v1/kms/keys", Op::CreateKmsKey),
    r("GET", "/admin/v1/kms/keys/{key}", Op::GetKmsKey),
    r("PATCH", "/admin/v1/kms/keys/{key}", Op::UpdateKmsKey),
    r("GET", "/admin/v1/users", Op::ListUsers),
    r("POST", "/admin/v1/users", Op::CreateUser),
    r("GET", "/admin/v1/users/{user}", Op::GetUser),
    r("DELETE", "/admin/v1/users/{user}", Op::DeleteUser),
    r("GET", "/admin/v1/users/{user}/keys", Op::ListAccessKeys),
    r("POST", "/admin/v1/users/{user}/keys", Op::CreateAccessKey),
    r("PATCH", "/admin/v1/users/{user}/keys/{key}", Op::UpdateAccessKey),
    r("DELETE", "/admin/v1/users/{user}/keys/{key}", Op::DeleteAccessKey),
    r("GET", "/admin/v1/users/{user}/password", Op::GetConsolePassword),
    r("PUT", "/admin/v1/users/{user}/password", Op::SetConsolePassword),
    r("DELETE", "/admin/v1/users/{user}/password", Op::DeleteConsolePassword),
    r("GET", "/admin/v1/users/{user}/inline-policies", Op::ListInlinePolicies),
    r(
        "GET",
        "/admin/v1/users/{user}/inline-policies/{policy}",
        Op::GetInlinePolicy,
    ),
    r(
        "PUT",
        "/admin/v1/users/{user}/inline-policies/{policy}",
        Op::PutInlinePolicy,
    ),
    r(
        "DELETE",
        "/admin/v1/users/{user}/inline-policies/{policy}",
        Op::DeleteInlinePolicy,
    ),
    r("GET", "/admin/v1/users/{user}/policies", Op::ListAttachedPolicies),
    r("PUT", "/admin/v1/users/{user}/policies/{policy}", Op::AttachPolicy),
    r("DELETE", "/admin/v1/users/{user}/policies/{policy}", Op::DetachPolicy),
    r("GET", "/admin/v1/policies", Op::ListPolicies),
    r("POST", "/admin/v1/policies", Op::CreatePolicy),
    r("GET", "/admin/v1/policies/{policy}", Op::GetPolicy),
    r("DELETE", "/admin/v1/policies/{policy}", Op::DeletePolicy),
    r("POST", "/admin/v1/simulate", Op::Simulate),
];

/// A request's route, or why there is none.
#[derive(Debug, PartialEq, Eq)]
pub enum Matched {
    /// The route and the path's parameters, percent-decoded, in pattern order.
    Route(Op, Vec<String>),
    /// The path exists, not with this method: the methods it takes.
    WrongMethod(Vec<&'static str>),
    NotFound,
}

/// Matches `method` and `path` (the raw, percent-encoded path) against [`ROUTES`].
pub fn find(method: &str, path: &str) -> Matched {
    let mut methods = Vec::new();
    for route in ROUTES {
        let Some(params) = match_path(route.path, path) else {
            continue;
        };
        if route.method == method {
            return Matched::Route(route.op, params);
        }
        methods.push(route.method);
    }
    if methods.is_empty() {
        Matched::NotFound
    } else {
        Matched::WrongMethod(methods)
    }
}

/// The parameters `path` gives `pattern`, if it matches.
fn match_path(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    let mut params = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return None;
                }
                let decoded = percent_encoding::percent_decode_str(g).decode_utf8().ok()?;
                params.push(decoded.into_owned());
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_their_parameters() {
        assert_eq!(find("GET", "/admin/v1/info"), Matched::Route(Op::ServerInfo, vec![]));
        assert_eq!(
            find("PATCH", "/admin/v1/users/al%40ice/keys/AKIA1"),
            Matched::Route(Op::UpdateAccessKey, vec!["al@ice".into(), "AKIA1".into()])
        );
        assert_eq!(
            find("DELETE", "/admin/v1/users/bob"),
            Matched::Route(Op::DeleteUser, vec!["bob".into()])
        );
        assert_eq!(
            find("PUT", "/admin/v1/users/bob"),
            Matched::WrongMethod(vec!["GET", "DELETE"])
        );
        for missing in [
            "/admin/v1/users/",
            "/admin/v1/users//keys",
            "/admin/v1/nothing",
            "/admin/v1/users/bob/keys/k/extra",
            "/admin/v1",
            "/admin/v1/info/",
        ] {
            assert_eq!(find("GET", missing), Matched::NotFound, "{missing}");
        }
        // Not UTF-8 once decoded: no route.
        assert_eq!(find("GET", "/admin/v1/users/%ff"), Matched::NotFound);
    }

    #[test]
    fn no_two_routes_share_a_method_and_path() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{a:?} twice");
            }
        }
    }
}
