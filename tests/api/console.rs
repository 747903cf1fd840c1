//! The web console is served from the binary: the page and its two assets
//! with their content types, a strict Content-Security-Policy, revalidation
//! by ETag, and nothing else under `/console`.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::helpers::{Db, TestApp};

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .expect("ASCII header")
        .to_owned()
}

#[tokio::test]
async fn serves_the_page_with_a_strict_policy() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let page = app.get("/console").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&page, CACHE_CONTROL), "no-cache");
    let csp = header(&page, CONTENT_SECURITY_POLICY);
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    assert_eq!(
        header(&page, "x-content-type-options".parse().unwrap()),
        "nosniff"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="/console/app.js" defer></script>"#));
    assert!(html.contains(r#"<link rel="stylesheet" href="/console/app.css">"#));
    assert!(html.contains(r#"<html lang="es">"#), "Spanish by default");
    // No inline script or style that the policy would block.
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains("style=\""));
    assert!(!html.contains("https://"), "no external resources");
}

#[tokio::test]
async fn serves_the_assets_with_their_types() {
    let app = TestApp::spawn(Db::Sqlite).await;
    for (path, content_type, needle) in [
        (
            "/console/app.js",
            "text/javascript; charset=utf-8",
            "sessionStorage",
        ),
        ("/console/app.css", "text/css; charset=utf-8", ".countdown"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, CONTENT_TYPE), content_type, "{path}");
        assert!(header(&response, CONTENT_SECURITY_POLICY).contains("default-src 'none'"));
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    assert_eq!(
        app.get("/console/nope.js").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/console/../Cargo.toml").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_unchanged_file_is_not_sent_again() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let first = app.get("/console/app.js").await;
    let etag = header(&first, ETAG);
    let again = app
        .client
        .get(format!("{}/console/app.js", app.address))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.text().await.unwrap().is_empty());
    let stale = app
        .client
        .get(format!("{}/console/app.js", app.address))
        .header(IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
}
