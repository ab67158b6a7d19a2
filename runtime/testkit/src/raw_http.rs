//! HTTP answers read back from raw bytes, for tests that write their requests byte for byte (so
//! that no client library tidies them up): framing, smuggling, slow and hostile clients.

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
}
