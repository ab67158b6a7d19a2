//! A minimal WebSocket client for tests and benchmarks: handshake, read text frames, answer pings.
//! Blocking (std) so a benchmark can run hundreds on threads without an async runtime.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A connected WebSocket.
#[derive(Debug)]
pub struct WsClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// What opening a WebSocket got instead of a `101`.
#[derive(Debug)]
pub struct Refused {
    /// The status code (0 when the connection failed).
    pub status: u16,
    /// The first line of the response, or the connection error.
    pub line: String,
}

impl WsClient {
    /// Opens `ws://{addr}{path}` with extra `headers` (e.g. `Authorization`, `Origin`).
    pub fn connect(addr: &str, path: &str, headers: &[(&str, &str)]) -> Result<WsClient, Refused> {
        let fail = |e: std::io::Error| Refused {
            status: 0,
            line: e.to_string(),
        };
        let stream = TcpStream::connect(addr).map_err(fail)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(fail)?;
        let _ = stream.set_nodelay(true);
        let mut writer = stream.try_clone().map_err(fail)?;
        // A `Host` among `headers` replaces the address (one `Host`, never two).
        let host = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map_or(addr, |(_, value)| *value);
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        let headers = headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"));
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        writer.write_all(request.as_bytes()).map_err(fail)?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).map_err(fail)?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // Read the rest of the head.
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).map_err(fail)?;
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        if status != 101 {
            let mut body = vec![0u8; content_length];
            let _ = reader.read_exact(&mut body);
            return Err(Refused {
                status,
                line: format!("{} {}", status_line.trim(), String::from_utf8_lossy(&body)),
            });
        }
        Ok(WsClient { reader, writer })
    }

    /// Sends a masked frame (clients must mask).
    fn send(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut frame = vec![0x80 | opcode];
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | u8::try_from(n).unwrap_or(0)),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame)
    }

    /// The next text message, answering pings on the way; `None` when the server closed.
    pub fn next_text(&mut self) -> Option<String> {
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head).ok()?;
            let opcode = head[0] & 0x0F;
            let len = match head[1] & 0x7F {
                126 => {
                    let mut b = [0u8; 2];
                    self.reader.read_exact(&mut b).ok()?;
                    usize::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.reader.read_exact(&mut b).ok()?;
                    usize::try_from(u64::from_be_bytes(b)).ok()?
                }
                n => usize::from(n),
            };
            let mut payload = vec![0u8; len];
            self.reader.read_exact(&mut payload).ok()?;
            match opcode {
                1 => return String::from_utf8(payload).ok(),
                8 => return None,
                9 => {
                    self.send(10, &payload).ok()?;
                }
                _ => {}
            }
        }
    }

    /// The close code the server sent (reads until a close frame or EOF).
    pub fn close_code(&mut self) -> Option<u16> {
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head).ok()?;
            let len = usize::from(head[1] & 0x7F);
            let mut payload = vec![0u8; len];
            self.reader.read_exact(&mut payload).ok()?;
            if head[0] & 0x0F == 8 {
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    }

    /// Sets how long reads wait.
    pub fn set_timeout(&self, timeout: Duration) {
        let _ = self.reader.get_ref().set_read_timeout(Some(timeout));
    }

    /// Closes politely.
    pub fn close(mut self) {
        let _ = self.send(8, &1000u16.to_be_bytes());
    }
}
