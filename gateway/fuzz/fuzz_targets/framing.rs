//! Any bytes as what a client sends on one connection, followed by the request framing
//! [`Tracker`] the way the connection follows them: read after read, each read fed until all of
//! it is taken, stopping at the first violation (the connection answers it and closes).
//!
//! The input: a first byte whose low four bits say how many read sizes follow and whose bit 4
//! grants an upgrade (`pass_through`) when a request asks for one; then those read sizes, one byte
//! each, used in turn (`0` is an empty read and then one byte, `0x01..=0x7f` that many bytes,
//! `0x80..` a multiple of 128 bytes; none at all reads one byte at a time); then the bytes sent.
//! In those, `0xFF n m` followed by `m > 0` bytes stands for those bytes `16 * (n + 1)` times,
//! so that small inputs make heads over [`MAX_HEAD`].
//!
//! Properties: nothing panics, and
//!
//! - split invariance: the bytes fed whole and fed in the reads the input chose come to the same
//!   events at the same offsets, with the same `last_head()`, and the same violation (where a
//!   violation is reported within its head may differ: those bytes are never handed on);
//! - `feed` takes at most what it is given, all of it when nothing happened (nothing at all while
//!   an upgrade is undecided, everything after it was granted), and at least one byte for an
//!   event; `phase()`, `at_boundary()` and `in_head()` say where the stream is;
//! - every head, accepted or refused, is as a small reference written here reads it, line by line
//!   and not as a stream: an accepted head is one that has a header name (a token) and a colon on
//!   every header line, no control byte, no CR but before LF, no `Transfer-Encoding`, at most one
//!   `Content-Length` value, all digits, and not over [`MAX_HEAD`] bytes; `last_head()` gives its
//!   length, its body's (that `Content-Length`, else 0) and whether it has an `Upgrade` header,
//!   and the request ends that many bytes after its head. A head the reference reads as plain is
//!   never refused, and a refused one is refused for the first fault the reference finds in it
//!   (a head over [`MAX_HEAD`] bytes: `HeadTooLarge`), never later than the byte that shows it
//!   (except where a header line is too long for the tracker to keep whole: then it may refuse a
//!   `Content-Length`, a `Transfer-Encoding` or a header name the reference reads);
//! - nothing is framed after a request asking for an upgrade: the bytes after it are not taken
//!   until the upgrade is granted, and all taken after.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sense_gateway::conn::framing::{Event, MAX_HEAD, Phase, Tracker, Violation};

/// The most bytes the input expands to.
const MAX_STREAM: usize = 4 * MAX_HEAD;

/// A header line longer than this may not be kept whole by the tracker (it keeps 1 KiB of each).
const SHORT_LINE: usize = 1000;

/// What the connection met at an offset of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// An event, and `last_head()` right after it.
    Event(Event, (usize, usize, bool)),
    /// A violation: the connection closes.
    Refused(Violation),
}

/// The bytes sent, the input expanded.
fn stream(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() && out.len() < MAX_STREAM {
        match input[i..] {
            [0xff, n, m, ref rest @ ..] if m > 0 && rest.len() >= usize::from(m) => {
                let unit = &rest[..usize::from(m)];
                for _ in 0..16 * (usize::from(n) + 1) {
                    if out.len() >= MAX_STREAM {
                        break;
                    }
                    out.extend_from_slice(unit);
                }
                i += 3 + usize::from(m);
            }
            _ => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    out.truncate(MAX_STREAM);
    out
}

/// Feeds `bytes` to a new tracker in reads of `sizes` (cycled) as the connection does, checking
/// what each `feed` returns: every event and the violation met, with their end offsets.
fn run(bytes: &[u8], sizes: &[usize], grant: bool) -> Vec<(usize, Seen)> {
    let mut t = Tracker::new();
    let mut seen = Vec::new();
    let mut at = 0;
    // Where the current request began; whether its head is complete (the body is coming).
    let mut start = 0;
    let mut in_body = false;
    let mut sizes = sizes.iter().copied().cycle();
    while at < bytes.len() {
        let mut size = sizes.next().unwrap();
        if size == 0 {
            assert_eq!(t.feed(&[]), (0, None), "an empty read");
            size = 1;
        }
        let end = at.saturating_add(size).min(bytes.len());
        // One read: fed until all of it is taken.
        while at < end {
            let read = &bytes[at..end];
            let phase = t.phase();
            let (taken, what) = t.feed(read);
            assert!(taken <= read.len(), "{taken} taken of {}", read.len());
            at += taken;
            match what {
                None => assert_eq!(taken, read.len(), "not all taken, and nothing happened"),
                Some(Ok(event)) => {
                    assert!(taken > 0, "{event:?} without a byte");
                    assert_eq!(phase, Phase::Http, "{event:?} in {phase:?}");
                    seen.push((at, Seen::Event(event, t.last_head())));
                    match event {
                        Event::HeadEnd => in_body = true,
                        Event::RequestEnd => {
                            start = at;
                            in_body = false;
                        }
                        Event::UpgradeEnd => {
                            assert_eq!(t.phase(), Phase::AfterUpgrade);
                            if !grant {
                                let rest = &bytes[at..];
                                assert_eq!(t.feed(rest), (0, None), "taken before the upgrade");
                                return seen;
                            }
                            t.pass_through();
                            assert_eq!(t.phase(), Phase::PassThrough);
                        }
                    }
                }
                Some(Err(violation)) => {
                    assert_eq!(phase, Phase::Http, "{violation:?} in {phase:?}");
                    let status = match violation {
                        Violation::Chunked => 411,
                        Violation::UnknownCoding => 501,
                        Violation::HeadTooLarge => 431,
                        _ => 400,
                    };
                    assert_eq!(violation.status().0, status, "{violation:?}");
                    assert!(!violation.message().is_empty());
                    assert!(!in_body, "{violation:?} in a body");
                    assert!(
                        at >= start,
                        "{violation:?} at {at}, before its request at {start}"
                    );
                    seen.push((at, Seen::Refused(violation)));
                    return seen;
                }
            }
            match t.phase() {
                Phase::Http if !in_body => {
                    assert_eq!(t.at_boundary(), at == start, "at_boundary at {at}");
                    assert_eq!(t.in_head(), at > start, "in_head at {at}");
                }
                _ => assert!(!t.at_boundary() && !t.in_head(), "in a body or upgraded"),
            }
        }
    }
    seen
}

/// The same violation, whatever the words.
fn kind(v: &Violation) -> Violation {
    match v {
        Violation::Malformed(_) => Violation::Malformed(""),
        v => v.clone(),
    }
}

/// What the reference makes of a head.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// A complete head of plain framing: its length, its body's, whether it asks for an upgrade.
    Accept(usize, usize, bool),
    /// A fault, known once that many bytes of the head are read (`Malformed` with no words).
    Refuse(Violation, usize),
    /// The bytes end before the head does.
    Unfinished,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ows(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s
        && is_ows(first)
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && is_ows(last)
    {
        s = rest;
    }
    s
}

/// Reads the head at the start of `bytes` line by line: what it should come to, and whether the
/// tracker must agree on a refusal (not when a long header line may not be kept whole).
fn reference(bytes: &[u8]) -> (Expect, bool) {
    let malformed = |at| Expect::Refuse(Violation::Malformed(""), at);
    let mut sure = true;
    let mut lengths: Vec<&[u8]> = Vec::new();
    let mut codings: Vec<&[u8]> = Vec::new();
    let mut upgrade = false;
    let mut at = 0;
    let mut first = true;
    loop {
        let lf = bytes[at..].iter().position(|&b| b == b'\n').map(|i| at + i);
        let end = lf.unwrap_or(bytes.len());
        for i in at..end {
            if i >= MAX_HEAD {
                return (Expect::Refuse(Violation::HeadTooLarge, i + 1), sure);
            }
            let b = bytes[i];
            if i > at && bytes[i - 1] == b'\r' {
                return (malformed(i + 1), sure);
            }
            if (b < 0x20 && b != b'\t' && b != b'\r') || b == 0x7f {
                return (malformed(i + 1), sure);
            }
        }
        let Some(lf) = lf else {
            return (Expect::Unfinished, sure);
        };
        if lf >= MAX_HEAD {
            return (Expect::Refuse(Violation::HeadTooLarge, lf + 1), sure);
        }
        let raw = &bytes[at..lf];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        at = lf + 1;
        if first {
            // The request line: picoserve's to read.
            first = false;
            continue;
        }
        if line.is_empty() {
            break;
        }
        if line.iter().all(is_ows) || is_ows(&line[0]) {
            return (malformed(at), sure);
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return (malformed(at), sure);
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().copied().all(is_tchar) {
            return (malformed(at), sure);
        }
        let value = trim_ows(&line[colon + 1..]);
        let length = name.eq_ignore_ascii_case(b"content-length");
        let coding = name.eq_ignore_ascii_case(b"transfer-encoding");
        if raw.len() > SHORT_LINE && (colon >= SHORT_LINE || length || coding) {
            sure = false;
        }
        if length {
            lengths.push(value);
        } else if coding {
            codings.push(value);
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade = true;
        }
    }
    let refuse = |v| (Expect::Refuse(v, at), sure);
    if !codings.is_empty() {
        return refuse(if !lengths.is_empty() {
            Violation::LengthAndCoding
        } else if codings
            .iter()
            .flat_map(|c| c.split(|&b| b == b','))
            .any(|c| trim_ows(c).eq_ignore_ascii_case(b"chunked"))
        {
            Violation::Chunked
        } else {
            Violation::UnknownCoding
        });
    }
    let mut numbers: Vec<usize> = Vec::new();
    let mut bad = false;
    for value in &lengths {
        // picoserve reads a list, even of equal numbers, as no number.
        bad |= value.contains(&b',');
        for v in value.split(|&b| b == b',').map(trim_ows) {
            let number = (!v.is_empty() && v.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(v).unwrap().parse::<usize>().ok())
                .flatten();
            match number {
                Some(n) => numbers.push(n),
                None => bad = true,
            }
        }
    }
    if numbers.iter().any(|&n| n != numbers[0]) {
        return refuse(Violation::ConflictingLengths);
    }
    if bad {
        return refuse(Violation::BadLength);
    }
    (
        Expect::Accept(at, numbers.first().copied().unwrap_or(0), upgrade),
        sure,
    )
}

/// Checks what the whole stream came to, request by request, against the reference.
fn check(bytes: &[u8], seen: &[(usize, Seen)]) {
    let mut start = 0;
    let mut i = 0;
    loop {
        let (expect, sure) = reference(&bytes[start..]);
        match seen.get(i) {
            None => {
                if start < bytes.len() {
                    assert_eq!(
                        expect,
                        Expect::Unfinished,
                        "nothing seen of the head at {start}"
                    );
                }
                return;
            }
            Some((at, Seen::Refused(v))) => {
                assert_eq!(i + 1, seen.len(), "something after a violation");
                if sure {
                    let Expect::Refuse(expected, known) = expect else {
                        panic!("{v:?} at {at}, the head at {start} is {expect:?}");
                    };
                    assert_eq!(kind(v), expected, "the head at {start}");
                    assert!(
                        *at <= start + known,
                        "{v:?} at {at}, known at {start} + {known}"
                    );
                }
                return;
            }
            Some((at, Seen::Event(event, (head, body, upgrade)))) => {
                assert_eq!(start + head, *at, "the head's length");
                assert!(*head <= MAX_HEAD, "a head of {head} bytes accepted");
                assert_eq!(
                    expect,
                    Expect::Accept(*head, *body, *upgrade),
                    "{event:?} at {at}, the head at {start}"
                );
                let ends = if *upgrade {
                    Event::UpgradeEnd
                } else {
                    Event::RequestEnd
                };
                let end = if *event == Event::HeadEnd {
                    assert!(*body > 0, "a head end with no body");
                    i += 1;
                    let end = head.checked_add(*body).and_then(|n| n.checked_add(start));
                    let Some(end) = end.filter(|&e| e <= bytes.len()) else {
                        assert_eq!(i, seen.len(), "something within the body");
                        return;
                    };
                    assert_eq!(
                        seen.get(i),
                        Some(&(end, Seen::Event(ends, (*head, *body, *upgrade)))),
                        "after the body of the head at {start}"
                    );
                    end
                } else {
                    assert_eq!((*event, *body), (ends, 0), "no body");
                    *at
                };
                i += 1;
                if *upgrade {
                    assert_eq!(i, seen.len(), "something framed after an upgrade");
                    return;
                }
                start = end;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let grant = first & 0x10 != 0;
    let (sizes, input) = rest.split_at(usize::from(first & 0x0f).min(rest.len()));
    let mut sizes: Vec<usize> = sizes
        .iter()
        .map(|&b| match b {
            0..0x80 => usize::from(b),
            _ => usize::from(b - 0x7f) * 128,
        })
        .collect();
    if sizes.is_empty() {
        sizes.push(1);
    }
    let bytes = stream(input);

    let whole = run(&bytes, &[usize::MAX], grant);
    let read = run(&bytes, &sizes, grant);
    let events = |seen: &[(usize, Seen)]| -> Vec<(Option<usize>, Seen)> {
        seen.iter()
            .map(|(at, s)| match s {
                Seen::Event(..) => (Some(*at), s.clone()),
                Seen::Refused(v) => (None, Seen::Refused(kind(v))),
            })
            .collect()
    };
    assert_eq!(
        events(&whole),
        events(&read),
        "whole and in reads of {sizes:?}"
    );
    check(&bytes, &whole);
    check(&bytes, &read);
});
