//! The web console's files, served by the server itself at `/console/` (its assets are
//! compiled into the binary from `console/` beside this crate: plain HTML, CSS and
//! JavaScript, written by hand, with no build step and no third-party code).
//!
//! Each asset is served under a name holding a hash of its bytes
//! (`/console/assets/app.<hash>.js`) and cached for good; `index.html` names them and
//! is never cached, so a new server version's page always loads its own assets. Every
//! answer carries a strict Content-Security-Policy: scripts, styles and connections to
//! this origin only, no inline script, no frames.

use std::sync::OnceLock;

use http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

/// The console's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const INDEX: &str = include_str!("../console/index.html");

/// The assets: file name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/app.css"),
    ),
    ("icon.svg", "image/svg+xml", include_bytes!("../console/icon.svg")),
];

struct Built {
    /// `index.html` with each asset's hashed name in place of its plain one.
    index: String,
    /// (hashed name, content type, bytes).
    assets: Vec<(String, &'static str, &'static [u8])>,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut index = INDEX.to_string();
        let mut assets = Vec::new();
        for (name, ctype, bytes) in ASSETS {
            let hash = hex::encode(&Sha256::digest(bytes)[..8]);
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            let hashed = format!("{stem}.{hash}.{ext}");
            index = index.replace(&format!("assets/{name}"), &format!("assets/{hashed}"));
            assets.push((hashed, *ctype, *bytes));
        }
        Built { index, assets }
    })
}

/// The hashed name an asset is served under (`app.js` -> `app.<hash>.js`).
pub fn asset_name(name: &str) -> Option<String> {
    let i = ASSETS.iter().position(|(n, _, _)| *n == name)?;
    Some(built().assets[i].0.clone())
}

fn with_headers(
    status: StatusCode,
    ctype: &'static str,
    cache: &'static str,
    body: Vec<u8>,
) -> http::Response<Vec<u8>> {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

/// The answer to an unsigned GET or HEAD of `path` (`/console` or under `/console/`).
pub fn serve(path: &str) -> http::Response<Vec<u8>> {
    match path {
        "/console" => {
            let mut resp = with_headers(
                StatusCode::MOVED_PERMANENTLY,
                "text/plain; charset=utf-8",
                "no-store",
                Vec::new(),
            );
            resp.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/console/"));
            resp
        }
        "/console/" | "/console/index.html" => with_headers(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-store",
            built().index.clone().into_bytes(),
        ),
        _ => {
            let asset = path
                .strip_prefix("/console/assets/")
                .and_then(|name| built().assets.iter().find(|(hashed, _, _)| hashed == name));
            match asset {
                Some((_, ctype, bytes)) => with_headers(
                    StatusCode::OK,
                    ctype,
                    "public, max-age=31536000, immutable",
                    bytes.to_vec(),
                ),
                None => with_headers(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "no-store",
                    b"not found\n".to_vec(),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_by_its_hash() {
        let page = String::from_utf8(serve("/console/").into_body()).unwrap();
        for (name, _, _) in ASSETS {
            let hashed = asset_name(name).unwrap();
            assert_ne!(&hashed, name);
            assert!(page.contains(&format!("/console/assets/{hashed}")), "{name}");
            let resp = serve(&format!("/console/assets/{hashed}"));
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(
                resp.headers()[header::CACHE_CONTROL]
                    .to_str()
                    .unwrap()
                    .contains("immutable")
            );
            // The plain name is not served: only the hashed one caches.
            assert_eq!(
                serve(&format!("/console/assets/{name}")).status(),
                StatusCode::NOT_FOUND
            );
        }
        // The page itself is never cached, and has no inline script.
        let resp = serve("/console/");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(resp.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert!(!page.contains("<script>") && !page.contains("onclick="));
        assert_eq!(serve("/console").status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(serve("/console/nothing").status(), StatusCode::NOT_FOUND);
    }
}
