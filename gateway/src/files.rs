//! The one file service, for the dashboard's built files and the HLS stream.
//!
//! Paths arrive URL-encoded. Each segment is decoded once and refused if it is `.`, `..`, empty, or
//! contains `/`, `\`, a NUL or a control character, so no encoding (`%2e%2e`, `%2f`, `%5c`,
//! `%00`, an absolute path) can leave the folder; the resolved file is then checked again to lie
//! under the canonical folder (a symlink pointing out is refused too).

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::reply::{Body, Reply};

/// Decodes `%XX` escapes; `None` for a malformed escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The relative path for URL-encoded `segments`, or `None` if any would escape the folder.
pub fn safe_relative<'a>(segments: impl IntoIterator<Item = &'a str>) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for raw in segments {
        let segment = percent_decode(raw)?;
        let bad = segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control())
            || segment.contains(':');
        if bad {
            return None;
        }
        path.push(segment);
    }
    Some(path)
}

/// The `Content-Type` for a file name.
pub fn content_type(path: &Path) -> &'static str {
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

/// What a request for a file brings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conditions<'a> {
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// Whether `Accept-Encoding` lists gzip.
    pub accepts_gzip: bool,
    /// A HEAD request: headers only.
    pub head: bool,
}

/// Serves `relative` under `root`: `Ok(None)` when there is no such file (the caller decides
/// between 404 and a fallback), `Err` for a path that must be refused.
pub async fn serve(
    root: &Path,
    relative: &Path,
    conditions: Conditions<'_>,
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
    let matches = conditions.if_none_match.is_some_and(|v| {
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
    if conditions.head {
        return Ok(Some(Reply {
            status: 200,
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
            file,
            length: meta.len(),
        },
    }))
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
            assert_eq!(safe_relative(bad.iter().copied()), None, "{bad:?}");
        }
        assert_eq!(
            safe_relative(["_app", "immutable", "app.js"]),
            Some(PathBuf::from("_app/immutable/app.js"))
        );
        // Decoded once only: a doubly-encoded dot-dot is a strange file name, not a way up.
        assert_eq!(safe_relative(["%252e%252e"]), Some(PathBuf::from("%2e%2e")));
        assert_eq!(
            safe_relative(["segment%2000001.ts"]),
            Some(PathBuf::from("segment 00001.ts"))
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Path::new("stream.m3u8")),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(content_type(Path::new("segment_00001.ts")), "video/mp2t");
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
    }
}
