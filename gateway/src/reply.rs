//! Responses: JSON, files streamed from disk, and errors that name their cause.

use picoserve::ResponseSent;
use picoserve::io::{Read, Write};
use picoserve::response::{Connection, Content, IntoResponse, ResponseWriter, StatusCode};
use serde::Serialize;

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// Bytes in memory.
    Bytes {
        /// Its `Content-Type`.
        content_type: &'static str,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Bytes shared between replies (the hub's serialised snapshot).
    Shared {
        /// Its `Content-Type`.
        content_type: &'static str,
        /// The bytes.
        data: std::rc::Rc<[u8]>,
    },
    /// A file streamed from disk.
    File {
        /// Its `Content-Type`.
        content_type: &'static str,
        /// The open file (boxed: it is large, and most replies are not files).
        file: Box<tokio::fs::File>,
        /// Its length in bytes.
        length: u64,
    },
    /// No body (304, HEAD).
    Empty {
        /// The `Content-Type` a body would have had.
        content_type: &'static str,
    },
}

impl Content for Body {
    fn content_type(&self) -> &'static str {
        match self {
            Body::Bytes { content_type, .. }
            | Body::Shared { content_type, .. }
            | Body::File { content_type, .. }
            | Body::Empty { content_type } => content_type,
        }
    }

    fn content_length(&self) -> usize {
        match self {
            Body::Bytes { data, .. } => data.len(),
            Body::Shared { data, .. } => data.len(),
            Body::File { length, .. } => usize::try_from(*length).unwrap_or(usize::MAX),
            Body::Empty { .. } => 0,
        }
    }

    async fn write_content<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        match self {
            Body::Bytes { data, .. } => writer.write_all(&data).await,
            Body::Shared { data, .. } => writer.write_all(&data).await,
            Body::Empty { .. } => Ok(()),
            Body::File {
                mut file, length, ..
            } => {
                use tokio::io::AsyncReadExt;
                let mut left = length;
                let mut buf = vec![0u8; 16 * 1024];
                while left > 0 {
                    let want = usize::try_from(left).unwrap_or(buf.len()).min(buf.len());
                    // A file that shrank under us: pad rather than break the framing.
                    let n = match file.read(&mut buf[..want]).await {
                        Ok(0) | Err(_) => {
                            buf[..want].fill(0);
                            want
                        }
                        Ok(n) => n,
                    };
                    writer.write_all(&buf[..n]).await?;
                    left -= n as u64;
                }
                Ok(())
            }
        }
    }
}

/// A complete response: status, extra headers, body.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers besides Content-Type and Content-Length.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

impl Reply {
    /// `status` with `value` as JSON.
    pub fn json(status: u16, value: &impl Serialize) -> Reply {
        Reply::raw_json(status, serde_json::to_string(value).unwrap_or_default())
    }

    /// `status` with JSON already serialized.
    pub fn raw_json(status: u16, json: String) -> Reply {
        Reply {
            status,
            headers: vec![("Cache-Control", "no-store".to_owned())],
            body: Body::Bytes {
                content_type: "application/json",
                data: json.into_bytes(),
            },
        }
    }

    /// `status` with JSON shared between replies.
    pub fn shared_json(status: u16, json: std::rc::Rc<[u8]>) -> Reply {
        Reply {
            status,
            headers: vec![("Cache-Control", "no-store".to_owned())],
            body: Body::Shared {
                content_type: "application/json",
                data: json,
            },
        }
    }

    /// `status` with `{"error": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, &crate::api::ApiError::new(message))
    }

    /// 404 with the path named.
    pub fn not_found(what: &str) -> Reply {
        Reply::error(404, format!("{what} not found"))
    }

    /// Plain text.
    pub fn text(status: u16, content_type: &'static str, text: String) -> Reply {
        Reply {
            status,
            headers: vec![("Cache-Control", "no-store".to_owned())],
            body: Body::Bytes {
                content_type,
                data: text.into_bytes(),
            },
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// Drops a header (e.g. the Basic challenge where the page shows its own sign-in form).
    pub fn without_header(mut self, name: &str) -> Reply {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The same answer without its body (`HEAD`).
    pub fn without_body(mut self) -> Reply {
        use picoserve::response::Content;
        self.body = Body::Empty {
            content_type: self.body.content_type(),
        };
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }
}

impl IntoResponse for Reply {
    async fn write_to<R: Read, W: ResponseWriter<Error = R::Error>>(
        self,
        connection: Connection<'_, R>,
        writer: W,
    ) -> Result<ResponseSent, W::Error> {
        (
            StatusCode::new(self.status),
            self.headers.as_slice(),
            self.body,
        )
            .write_to(connection, writer)
            .await
    }
}
