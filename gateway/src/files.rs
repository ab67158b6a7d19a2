//! The one file service, for the dashboard's built files (every path no route claims) and the
//! camera's HLS stream (`/api/stream/{file}`).
//!
//! Paths arrive URL-encoded. Each segment is decoded once (by picoserve, as the router decodes
//! it) and refused if it is `.`, `..`, empty, or
//! contains `/`, `\`, a NUL or a control character, so no encoding (`%2e%2e`, `%2f`, `%5c`,
//! `%00`, an absolute path) can leave the folder; the resolved file is then checked again to lie
//! under the canonical folder (a symlink pointing out is refused too).

use std::path::{Path as FsPath, PathBuf};
use std::time::UNIX_EPOCH;

use picoserve::ResponseSent;
use picoserve::extract::{FromRequestParts, State};
use picoserve::io::Read;
use picoserve::request::{Path, Request, RequestParts};
use picoserve::response::{IntoResponse, ResponseWriter};
use picoserve::routing::PathRouterService;
use picoserve::url_encoded::UrlEncodedString;

use crate::guard::Ctx;
use crate::reply::{Body, Reply};

/// Whether a decoded path segment names something inside the folder.
fn safe_segment(segment: &str) -> bool {
    !(segment.is_empty()
        || segment == "."
        || segment == ".."
        || segment
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
        || segment.contains(':'))
}

/// The relative path for URL-encoded `segments`, or `None` if any would escape the folder.
pub fn safe_relative<'a>(
    segments: impl IntoIterator<Item = UrlEncodedString<'a>>,
) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for raw in segments {
        let segment = raw.try_into_std_string().ok()?;
        if !safe_segment(&segment) {
            return None;
        }
        path.push(segment);
    }
    Some(path)
}

/// A file name in a path (one segment, decoded), e.g. an HLS segment's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(pub String);

impl std::str::FromStr for FileName {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        safe_segment(s).then(|| FileName(s.to_owned())).ok_or(())
    }
}

/// The `Content-Type` for a file name.
pub fn content_type(path: &FsPath) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "m4s" | "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// How long clients may keep a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// Revalidate every time (index.html, HLS playlists).
    Revalidate,
    /// Content-addressed: keep for a year (`_app/immutable/…`).
    Immutable,
    /// Keep a while (`max-age` seconds).
    For(u32),
}

impl Caching {
    fn header(self) -> String {
        match self {
            Caching::Revalidate => "no-cache".to_owned(),
            Caching::Immutable => "public, max-age=31536000, immutable".to_owned(),
            Caching::For(s) => format!("public, max-age={s}"),
        }
    }
}

/// What a request for a file brings. (A `HEAD` request is answered by picoserve from the `GET`
/// answer, without its body.)
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// Whether `Accept-Encoding` lists gzip.
    pub accepts_gzip: bool,
}

impl<'r, State> FromRequestParts<'r, State> for Conditions {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _state: &'r State,
        parts: &RequestParts<'r>,
    ) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers().get(name).and_then(|v| v.as_str().ok());
        Ok(Conditions {
            if_none_match: header("if-none-match").map(str::to_owned),
            accepts_gzip: header("accept-encoding").is_some_and(|a| a.contains("gzip")),
        })
    }
}

/// Serves `relative` under `root`: `Ok(None)` when there is no such file (the caller decides
/// between 404 and a fallback), `Err` for a path that must be refused.
pub async fn serve(
    root: &FsPath,
    relative: &FsPath,
    conditions: &Conditions,
    caching: Caching,
) -> Result<Option<Reply>, Reply> {
    let Ok(root) = tokio::fs::canonicalize(root).await else {
        return Ok(None);
    };
    let candidate = root.join(relative);
    let Ok(resolved) = tokio::fs::canonicalize(&candidate).await else {
        return Ok(None);
    };
    if !resolved.starts_with(&root) {
        return Err(Reply::error(403, "outside the served folder"));
    }
    let Ok(meta) = tokio::fs::metadata(&resolved).await else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    let content_type = content_type(&resolved);
    // A precompressed sibling (`app.js.gz`) is sent to clients that take gzip.
    let gz = PathBuf::from(format!("{}.gz", resolved.display()));
    let (path, meta, gzipped) = match tokio::fs::metadata(&gz).await {
        Ok(m) if conditions.accepts_gzip && m.is_file() => (gz, m, true),
        _ => (resolved, meta, false),
    };
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let etag = format!(
        "\"{:x}-{:x}{}\"",
        meta.len(),
        modified,
        if gzipped { "-gz" } else { "" }
    );
    let mut headers = vec![
        ("ETag", etag.clone()),
        ("Cache-Control", caching.header()),
        ("Vary", "Accept-Encoding".into()),
    ];
    if gzipped {
        headers.push(("Content-Encoding", "gzip".into()));
    }
    let matches = conditions.if_none_match.as_deref().is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == etag)
    });
    if matches {
        return Ok(Some(Reply {
            status: 304,
            headers,
            body: Body::Empty { content_type },
        }));
    }
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return Ok(None);
    };
    Ok(Some(Reply {
        status: 200,
        headers,
        body: Body::File {
            content_type,
            file: Box::new(file),
            length: meta.len(),
        },
    }))
}

/// `GET /api/stream/{file}`: the HLS playlist and segments the camera writes.
pub async fn hls(file: FileName, State(ctx): State<Ctx>, conditions: Conditions) -> Reply {
    let relative = PathBuf::from(file.0);
    let dir = &ctx.shared.options.hls_dir;
    let playlist = relative.extension().is_some_and(|e| e == "m3u8");
    // Segments never change under their name; the playlist and the thumbnail do.
    let changing = playlist || relative.extension().is_some_and(|e| e == "jpg");
    let caching = if changing {
        Caching::Revalidate
    } else {
        Caching::For(3600)
    };
    match serve(dir, &relative, &conditions, caching).await {
        Ok(Some(reply)) => reply,
        Ok(None) if playlist => Reply::error(503, "the camera stream is not running"),
        Ok(None) => Reply::not_found("stream segment"),
        Err(reply) => reply,
    }
}

/// The page shown when the dashboard has not been built.
fn not_built() -> Reply {
    Reply::text(
        200,
        "text/html; charset=utf-8",
        "<!doctype html><meta charset=utf-8><title>Sense Pulse</title>\
         <h1>Sense Pulse</h1><p>The gateway is running, but the dashboard is not built: run \
         <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>.</p>\
         <p>API: <a href=/api/sources>/api/sources</a>, <a href=/api/config>/api/config</a>, \
         <a href=/health>/health</a>, <a href=/metrics>/metrics</a>.</p>"
            .to_owned(),
    )
}

/// The dashboard's built files, for every path no route claims; `index.html` for the app's own
/// routes (no file extension). Under the API's prefixes it answers a JSON 404 instead.
async fn frontend(ctx: &Ctx, path: Path<'_>, conditions: &Conditions) -> Reply {
    let Some(dir) = ctx
        .shared
        .options
        .frontend_dir
        .as_deref()
        .filter(|d| d.join("index.html").is_file())
    else {
        return not_built();
    };
    let Some(relative) = safe_relative(path.segments().filter(|s| !s.0.is_empty())) else {
        return Reply::error(400, "invalid path");
    };
    // The service worker must be revalidated each time, or a fixed dashboard would reach
    // installed copies only once a cached worker expired.
    let caching = if relative.starts_with("_app/immutable") {
        Caching::Immutable
    } else if relative.as_os_str().is_empty() || relative == FsPath::new("service-worker.js") {
        Caching::Revalidate
    } else {
        Caching::For(300)
    };
    let target = if relative.as_os_str().is_empty() {
        PathBuf::from("index.html")
    } else {
        relative.clone()
    };
    match serve(dir, &target, conditions, caching).await {
        Ok(Some(reply)) => reply,
        // A client-side route (no file extension): the app's shell handles it.
        Ok(None) if relative.extension().is_none() => serve(
            dir,
            FsPath::new("index.html"),
            conditions,
            Caching::Revalidate,
        )
        .await
        .ok()
        .flatten()
        .unwrap_or_else(not_built),
        Ok(None) => Reply::not_found("file"),
        Err(reply) => reply,
    }
}

/// What answers under `/api` and `/ws` when no route there matches: a JSON 404.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEndpoint;

impl PathRouterService<Ctx> for NoEndpoint {
    async fn call_path_router_service<R: Read, W: ResponseWriter<Error = R::Error>>(
        &self,
        _ctx: &Ctx,
        (): (),
        _rest: Path<'_>,
        request: Request<'_, R>,
        writer: W,
    ) -> Result<ResponseSent, W::Error> {
        let method = request.parts.method();
        let path = request.parts.path();
        Reply::error(404, format!("no endpoint {method} {}", path.encoded()))
            .write_to(request.body_connection.finalize().await?, writer)
            .await
    }
}

/// What answers when no route matches: the dashboard's files for `GET`, a JSON error otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fallback;

impl PathRouterService<Ctx> for Fallback {
    async fn call_path_router_service<R: Read, W: ResponseWriter<Error = R::Error>>(
        &self,
        ctx: &Ctx,
        (): (),
        path: Path<'_>,
        request: Request<'_, R>,
        writer: W,
    ) -> Result<ResponseSent, W::Error> {
        let method = request.parts.method();
        let api = crate::guard::PROTECTED
            .iter()
            .any(|p| crate::guard::under(path, p));
        let reply = if api {
            Reply::error(404, format!("no endpoint {method} {}", path.encoded()))
        } else if matches!(method, "GET" | "HEAD") {
            let conditions = match Conditions::from_request_parts(ctx, &request.parts).await {
                Ok(c) => c,
                Err(never) => match never {},
            };
            let reply = frontend(ctx, path, &conditions).await;
            if method == "HEAD" {
                reply.without_body()
            } else {
                reply
            }
        } else {
            Reply::error(405, format!("{method} is not allowed here"))
        };
        reply
            .write_to(request.body_connection.finalize().await?, writer)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_in_any_encoding_is_refused() {
        for bad in [
            vec![".."],
            vec!["%2e%2e"],
            vec!["%2E%2E"],
            vec!["assets", "..", "secret"],
            vec!["..%2fetc"],
            vec!["%2fetc%2fpasswd"],
            vec!["..%5c..%5cwindows"],
            vec!["a%00b"],
            vec!["c:", "x"],
            vec![""],
            vec!["%"],
            vec!["%zz"],
            vec!["%c0%ae%c0%ae"],
        ] {
            assert_eq!(
                safe_relative(bad.iter().map(|s| UrlEncodedString(s))),
                None,
                "{bad:?}"
            );
        }
        assert_eq!(
            safe_relative(["_app", "immutable", "app.js"].map(UrlEncodedString)),
            Some(PathBuf::from("_app/immutable/app.js"))
        );
        // Decoded once only: a doubly-encoded dot-dot is a strange file name, not a way up.
        assert_eq!(
            safe_relative([UrlEncodedString("%252e%252e")]),
            Some(PathBuf::from("%2e%2e"))
        );
        assert_eq!(
            safe_relative([UrlEncodedString("segment%2000001.ts")]),
            Some(PathBuf::from("segment 00001.ts"))
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(FsPath::new("stream.m3u8")),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(content_type(FsPath::new("segment_00001.ts")), "video/mp2t");
        assert_eq!(
            content_type(FsPath::new("index.html")),
            "text/html; charset=utf-8"
        );
    }
}
