//! HTTP answers, and the WebSocket frames after an upgrade, read back from raw bytes, for tests
//! that write their requests byte for byte (so that no client library tidies them up): framing,
//! smuggling, slow and hostile clients.

use serde_json::Value as Json;

/// One answer: its status, its head as text and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// No answer at all (status 0): the connection closed first.
    pub fn none() -> Answer {
        Answer {
            status: 0,
            head: String::new(),
            body: Vec::new(),
        }
    }

    /// The first complete answer in `bytes` and how many bytes it took; `None` while it is
    /// incomplete, or when its `Content-Length` is no number.
    pub fn parse(bytes: &[u8]) -> Option<(Answer, usize)> {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let mut answer = Answer {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = match answer.header("content-length") {
            Some(v) => v.parse().ok()?,
            None => 0,
        };
        if bytes.len() < end + length {
            return None;
        }
        answer.body = bytes[end..end + length].to_vec();
        Some((answer, end + length))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of the header `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When it is not JSON (the message quotes it).
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// Whether the body is JSON saying why, in an `error` or `message` string.
    pub fn says_why(&self) -> bool {
        serde_json::from_slice::<Json>(&self.body)
            .is_ok_and(|v| v["error"].is_string() || v["message"].is_string())
    }
}

/// One WebSocket frame as a server sends it (never masked).
#[derive(Debug, PartialEq, Eq)]
pub struct WsFrame {
    /// `0x1` text, `0x2` binary, `0x8` close, `0x9` ping, `0xA` pong.
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl WsFrame {
    /// The first complete frame in `bytes` and how many bytes it took; `None` while it is
    /// incomplete.
    pub fn parse(bytes: &[u8]) -> Option<(WsFrame, usize)> {
        let (&first, rest) = bytes.split_first()?;
        let (&second, rest) = rest.split_first()?;
        let (len, header) = match second & 0x7f {
            126 => (
                u64::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
                4,
            ),
            127 => (u64::from_be_bytes(rest.get(..8)?.try_into().ok()?), 10),
            n => (u64::from(n), 2),
        };
        let end = header + usize::try_from(len).ok()?;
        let payload = bytes.get(header..end)?.to_vec();
        Some((
            WsFrame {
                opcode: first & 0x0f,
                payload,
            },
            end,
        ))
    }

    /// A close frame's status code (1000 when it gives none); `None` for other frames.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == 0x8).then(|| match self.payload.get(..2) {
            Some(code) => u16::from_be_bytes([code[0], code[1]]),
            None => 1000,
        })
    }

    /// A text frame's text; `None` for other frames.
    pub fn text(&self) -> Option<String> {
        (self.opcode == 0x1).then(|| String::from_utf8_lossy(&self.payload).into_owned())
    }
}

/// The next WebSocket frame off `stream`, `buffer` holding what was read past it; `None` when the
/// connection ends (or fails) first.
pub async fn read_ws_frame(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    buffer: &mut Vec<u8>,
) -> Option<WsFrame> {
    use tokio::io::AsyncReadExt as _;
    loop {
        if let Some((frame, used)) = WsFrame::parse(buffer) {
            buffer.drain(..used);
            return Some(frame);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_one_after_another() {
        let bytes = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 14\r\n\r\n{\"error\":\"no\"}\
HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart";
        let (first, n) = Answer::parse(bytes).unwrap();
        assert_eq!(
            (first.status, first.header("CONTENT-LENGTH")),
            (400, Some("14"))
        );
        assert!(first.says_why());
        let (second, m) = Answer::parse(&bytes[n..]).unwrap();
        assert_eq!((second.status, second.body.len()), (200, 0));
        assert!(
            Answer::parse(&bytes[n + m..]).is_none(),
            "an incomplete body"
        );
        assert!(Answer::parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_none());
    }

    #[test]
    fn websocket_frames_are_read_one_after_another() {
        let text = br#"{"type":"sources"}"#;
        let mut bytes = vec![0x81, u8::try_from(text.len()).unwrap()];
        bytes.extend_from_slice(text);
        let long = vec![b'x'; 300];
        bytes.extend_from_slice(&[0x81, 126, 0x01, 0x2c]);
        bytes.extend_from_slice(&long);
        bytes.extend_from_slice(&[0x88, 0x02, 0x03, 0xf5]);
        let (first, n) = WsFrame::parse(&bytes).unwrap();
        assert_eq!(first.text().as_deref(), Some(r#"{"type":"sources"}"#));
        let (second, m) = WsFrame::parse(&bytes[n..]).unwrap();
        assert_eq!(second.payload.len(), 300);
        let (close, _) = WsFrame::parse(&bytes[n + m..]).unwrap();
        assert_eq!((close.close_code(), close.text()), (Some(1013), None));
        assert!(WsFrame::parse(&bytes[..n - 1]).is_none(), "incomplete");
    }
}
