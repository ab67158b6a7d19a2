//! Where each request on a connection begins and ends, found before picoserve reads it.
//!
//! picoserve 0.20 frames a request by its first `Content-Length` header alone: it ignores
//! `Transfer-Encoding` and duplicate or comma-listed lengths (a list reads as no body at all).
//! A chunked body would then be read as the next request, and a proxy in front that frames the
//! same bytes differently would let a request through that it never saw (request smuggling).
//!
//! [`Tracker`] follows the bytes as picoserve will read them: a head up to its empty line, then
//! `Content-Length` body bytes, then the next head. Anything whose framing is not plain and
//! unambiguous is a [`Violation`], answered and closed by the connection before picoserve sees
//! the request:
//!
//! | request | answer |
//! |---|---|
//! | `Transfer-Encoding` and `Content-Length` | 400 |
//! | `Transfer-Encoding: chunked`, no `Content-Length` | 411 |
//! | another `Transfer-Encoding` | 501 |
//! | `Content-Length`s that differ, a list (even of equal values), a sign, a non-digit, too large | 400 |
//! | a header line folded (starting with white space), without a colon, a name that is not a token | 400 |
//! | a NUL or another control character, a CR not before LF, a blank line with spaces | 400 |
//! | a head over [`MAX_HEAD`] bytes | 431 |
//!
//! Equal `Content-Length` headers are accepted (picoserve takes the first, which is all of them).
//! After a request with an `Upgrade` header the tracker stops: what follows is another protocol
//! if the answer is `101 Switching Protocols`, and nothing at all otherwise.

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Bytes kept of each header line: enough for its name and the values that frame a request.
const LINE_KEPT: usize = 1024;

/// A request whose framing is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// `Transfer-Encoding: chunked` without `Content-Length`: 411.
    Chunked,
    /// A transfer coding other than chunked: 501.
    UnknownCoding,
    /// Both `Transfer-Encoding` and `Content-Length`: 400.
    LengthAndCoding,
    /// `Content-Length` headers or list entries that differ: 400.
    ConflictingLengths,
    /// A `Content-Length` that is not one number: 400.
    BadLength,
    /// A malformed head, saying how: 400.
    Malformed(&'static str),
    /// A head over [`MAX_HEAD`]: 431.
    HeadTooLarge,
}

impl Violation {
    /// The status code and its reason phrase.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            Violation::Chunked => (411, "Length Required"),
            Violation::UnknownCoding => (501, "Not Implemented"),
            Violation::HeadTooLarge => (431, "Request Header Fields Too Large"),
            Violation::LengthAndCoding
            | Violation::ConflictingLengths
            | Violation::BadLength
            | Violation::Malformed(_) => (400, "Bad Request"),
        }
    }

    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Violation::Chunked => {
                "chunked request bodies are not supported: send Content-Length".to_owned()
            }
            Violation::UnknownCoding => "transfer codings are not supported".to_owned(),
            Violation::LengthAndCoding => {
                "a request may not have both Transfer-Encoding and Content-Length".to_owned()
            }
            Violation::ConflictingLengths => "Content-Length values differ".to_owned(),
            Violation::BadLength => "Content-Length must be one decimal number".to_owned(),
            Violation::Malformed(why) => format!("malformed request head: {why}"),
            Violation::HeadTooLarge => format!("the request head is over {MAX_HEAD} bytes"),
        }
    }
}

/// A point in the byte stream [`Tracker::feed`] stops at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The head of a request with a body is complete; the body follows.
    HeadEnd,
    /// A request, head and body, is complete; the next one begins.
    RequestEnd,
    /// A request with an `Upgrade` header is complete: what follows is not framed here.
    UpgradeEnd,
}

/// What the bytes after a request asking for an upgrade are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// HTTP requests, tracked.
    Http,
    /// A request asking for an upgrade is complete and not answered yet.
    AfterUpgrade,
    /// The upgrade was granted: another protocol, passed through untouched.
    PassThrough,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Head,
    Body { remaining: usize, upgrade: bool },
    AfterUpgrade,
    PassThrough,
}

/// What the header lines of the current head said so far.
#[derive(Clone, Debug, Default)]
struct Facts {
    /// The `Content-Length`, once one was read.
    length: Option<usize>,
    /// A `Content-Length` header was there, valid or not.
    length_seen: bool,
    bad_length: bool,
    conflicting_lengths: bool,
    /// A `Transfer-Encoding` header was there.
    coding: bool,
    /// It named chunked.
    chunked: bool,
    upgrade: bool,
}

/// The request framing of one connection's incoming bytes (see the module's documentation).
#[derive(Debug)]
pub struct Tracker {
    state: State,
    /// Bytes of the current head so far.
    head_len: usize,
    /// Complete lines of the current head so far (the first is the request line).
    lines: usize,
    /// The current line's first [`LINE_KEPT`] bytes.
    line: Vec<u8>,
    /// The current line's length.
    line_len: usize,
    /// The last byte of the current line was a CR.
    cr: bool,
    facts: Facts,
    /// The last complete head: its length, its body's length and whether it asks for an upgrade.
    last: (usize, usize, bool),
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            state: State::Head,
            head_len: 0,
            lines: 0,
            line: Vec::new(),
            line_len: 0,
            cr: false,
            facts: Facts::default(),
            last: (0, 0, false),
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b
        && first.is_ascii_whitespace()
    {
        b = rest;
    }
    while let [rest @ .., last] = b
        && last.is_ascii_whitespace()
    {
        b = rest;
    }
    b
}

impl Tracker {
    /// A tracker at the start of a connection.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Whether the bytes are HTTP requests, or after an upgrade.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Head | State::Body { .. } => Phase::Http,
            State::AfterUpgrade => Phase::AfterUpgrade,
            State::PassThrough => Phase::PassThrough,
        }
    }

    /// Between two requests: no byte of the next one seen yet.
    pub fn at_boundary(&self) -> bool {
        self.state == State::Head && self.head_len == 0
    }

    /// Some bytes of a head have come, not all of it.
    pub fn in_head(&self) -> bool {
        self.state == State::Head && self.head_len > 0
    }

    /// The last complete head: `(head bytes, body bytes, asks for an upgrade)`.
    pub fn last_head(&self) -> (usize, usize, bool) {
        self.last
    }

    /// The upgrade was granted: every byte from now on passes untouched.
    pub fn pass_through(&mut self) {
        self.state = State::PassThrough;
    }

    /// Follows `bytes`, stopping right after the first [`Event`] or [`Violation`]: returns how
    /// many bytes were taken (all of them when nothing happened) and what happened there. Once
    /// a request asking for an upgrade is complete, nothing more is taken until
    /// [`Tracker::pass_through`].
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Option<Result<Event, Violation>>) {
        let mut taken = 0;
        while taken < bytes.len() {
            let rest = &bytes[taken..];
            match self.state {
                State::AfterUpgrade => return (taken, None),
                State::PassThrough => return (bytes.len(), None),
                State::Body { remaining, upgrade } => {
                    let n = remaining.min(rest.len());
                    taken += n;
                    if n == remaining {
                        return (taken, Some(Ok(self.request_end(upgrade))));
                    }
                    self.state = State::Body {
                        remaining: remaining - n,
                        upgrade,
                    };
                }
                State::Head => {
                    let newline = rest.iter().position(|&b| b == b'\n');
                    let part = &rest[..newline.unwrap_or(rest.len())];
                    // The bytes within the limit are looked at first: the first fault in the
                    // stream is the one refused, however the bytes come.
                    let room = MAX_HEAD.saturating_sub(self.head_len);
                    if let Err(v) = self.take(&part[..part.len().min(room)]) {
                        return (taken, Some(Err(v)));
                    }
                    self.head_len += part.len() + usize::from(newline.is_some());
                    if self.head_len > MAX_HEAD {
                        return (taken, Some(Err(Violation::HeadTooLarge)));
                    }
                    taken += part.len();
                    if newline.is_some() {
                        taken += 1;
                        match self.end_line() {
                            Err(v) => return (taken, Some(Err(v))),
                            Ok(Some(event)) => return (taken, Some(Ok(event))),
                            Ok(None) => {}
                        }
                    }
                }
            }
        }
        (taken, None)
    }

    fn request_end(&mut self, upgrade: bool) -> Event {
        if upgrade {
            self.state = State::AfterUpgrade;
            Event::UpgradeEnd
        } else {
            self.state = State::Head;
            Event::RequestEnd
        }
    }

    /// Bytes of the current line, before its LF.
    fn take(&mut self, part: &[u8]) -> Result<(), Violation> {
        for &b in part {
            if self.cr {
                return Err(Violation::Malformed("a CR not followed by LF"));
            }
            match b {
                b'\r' => self.cr = true,
                b'\t' => {}
                0 => return Err(Violation::Malformed("a NUL byte")),
                b if b < 0x20 || b == 0x7f => {
                    return Err(Violation::Malformed("a control character"));
                }
                _ => {}
            }
        }
        let room = LINE_KEPT.saturating_sub(self.line.len());
        self.line.extend_from_slice(&part[..room.min(part.len())]);
        self.line_len += part.len();
        Ok(())
    }

    /// The current line is complete: `Some` when it ended the head (and maybe the request).
    fn end_line(&mut self) -> Result<Option<Event>, Violation> {
        let mut line = std::mem::take(&mut self.line);
        let whole = self.line_len <= LINE_KEPT;
        if self.cr && whole {
            line.pop();
        }
        let empty = self.line_len == usize::from(self.cr);
        self.cr = false;
        self.line_len = 0;
        let first = self.lines == 0;
        self.lines += 1;
        let result = if first {
            // The request line: picoserve parses it, and refuses and closes on anything odd.
            Ok(None)
        } else if empty {
            self.end_head().map(Some)
        } else {
            self.header(&line, whole).map(|()| None)
        };
        // The buffer is kept for the next line, unless a long line grew it.
        line.clear();
        if line.capacity() <= 256 {
            self.line = line;
        }
        result
    }

    fn header(&mut self, line: &[u8], whole: bool) -> Result<(), Violation> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Err(Violation::Malformed("a blank line with white space in it"));
        }
        if line[0].is_ascii_whitespace() {
            return Err(Violation::Malformed(
                "a header line starting with white space (obsolete line folding)",
            ));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(Violation::Malformed(if whole {
                "a header line without a colon"
            } else {
                "a header name too long"
            }));
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().copied().all(is_tchar) {
            return Err(Violation::Malformed("a header name that is not a token"));
        }
        let value = trim(&line[colon + 1..]);
        let facts = &mut self.facts;
        if name.eq_ignore_ascii_case(b"content-length") {
            facts.length_seen = true;
            if !whole {
                facts.bad_length = true;
                return Ok(());
            }
            let mut values = value.split(|&b| b == b',').map(trim);
            let list = value.contains(&b',');
            for v in &mut values {
                let parsed = (!v.is_empty() && v.iter().all(u8::is_ascii_digit))
                    .then(|| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
                    .flatten();
                match (parsed, facts.length) {
                    (None, _) => facts.bad_length = true,
                    (Some(n), None) => facts.length = Some(n),
                    (Some(n), Some(m)) if n != m => facts.conflicting_lengths = true,
                    (Some(_), Some(_)) => {}
                }
            }
            // picoserve reads a list, even of equal values, as no number, hence no body.
            if list {
                facts.bad_length = true;
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            facts.coding = true;
            if value
                .split(|&b| b == b',')
                .any(|c| trim(c).eq_ignore_ascii_case(b"chunked"))
            {
                facts.chunked = true;
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            facts.upgrade = true;
        }
        Ok(())
    }

    /// The empty line: the head is complete.
    fn end_head(&mut self) -> Result<Event, Violation> {
        let facts = std::mem::take(&mut self.facts);
        let head_len = std::mem::take(&mut self.head_len);
        self.lines = 0;
        if facts.coding {
            return Err(if facts.length_seen {
                Violation::LengthAndCoding
            } else if facts.chunked {
                Violation::Chunked
            } else {
                Violation::UnknownCoding
            });
        }
        if facts.conflicting_lengths {
            return Err(Violation::ConflictingLengths);
        }
        if facts.bad_length {
            return Err(Violation::BadLength);
        }
        let length = facts.length.unwrap_or(0);
        self.last = (head_len, length, facts.upgrade);
        if length == 0 {
            return Ok(self.request_end(facts.upgrade));
        }
        self.state = State::Body {
            remaining: length,
            upgrade: facts.upgrade,
        };
        Ok(Event::HeadEnd)
    }
}

#[cfg(test)]
mod tests;
