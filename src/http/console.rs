//! `/console`: the agents' and editors' web console, served from the binary.
//!
//! Three static files from `console/` (page, script, style sheet) are
//! embedded at compile time, so the console needs no separate server and no
//! build step, and always matches the API it talks to (same origin, bearer
//! token kept in the browser's session storage). Every answer carries a
//! strict `Content-Security-Policy` (own origin only, no inline code) and an
//! `ETag`; the files are not fingerprinted, so browsers revalidate
//! (`no-cache`) and get a `304` while the binary is unchanged.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::AppState;

/// Own origin only: no inline script or style, no framing, no other hosts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Revalidate every time: the file names do not change between releases,
/// and the ETag makes the check cheap.
const CACHE_CONTROL: &str = "no-cache";

/// One embedded file with its content type and ETag.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(body: &'static [u8], content_type: &'static str) -> Asset {
        let digest = Sha256::digest(body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Asset {
            body,
            content_type,
            etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
        }
    }

    /// The file, or `304 Not Modified` when the browser holds this version.
    fn respond(&self, request: &HeaderMap) -> Response {
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .any(|t| t.trim() == self.etag.to_str().unwrap_or_default())
            });
        let headers = [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ),
            (header::ETAG, self.etag.clone()),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ];
        if fresh {
            (StatusCode::NOT_MODIFIED, headers).into_response()
        } else {
            (headers, self.body).into_response()
        }
    }
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("../../console/index.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("../../console/app.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_bytes!("../../console/app.css"),
        "text/css; charset=utf-8",
    )
});

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route(
            "/console/",
            get(|| async { Redirect::permanent("/console") }),
        )
        .route("/console/{file}", get(asset))
}

async fn index(request: HeaderMap) -> Response {
    INDEX.respond(&request)
}

async fn asset(Path(file): Path<String>, request: HeaderMap) -> Response {
    match file.as_str() {
        "app.js" => SCRIPT.respond(&request),
        "app.css" => STYLE.respond(&request),
        "index.html" => INDEX.respond(&request),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
