//! The TCP stream as picoserve sees it: framed by a [`Tracker`], one request per
//! [`picoserve::Server::serve`].
//!
//! The read half hands picoserve the bytes of one request at most per read, so a request is
//! never read before the one ahead of it has been answered; between two requests it reports the
//! end of the stream, which ends `serve` (the connection then waits for the next head without
//! picoserve and its buffer: [`Framed::stopped`] says [`Stopped::Parked`]). On a framing
//! [`Violation`] it stops feeding picoserve and fails the read: the connection answers the
//! violation itself. After a request asking for an upgrade, the write half reads the answer's
//! status: bytes pass untouched after `101`, and the stream ends after anything else.

use std::cell::Cell;
use std::fmt;

use picoserve::io::{ErrorType, Read};
use picoserve::mem::{BorrowedBuffer, BorrowedCursor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};

use super::framing::{Event, Phase, Tracker, Violation};

/// Bytes read at a time (at least) while waiting for a request.
const READ_CHUNK: usize = 1024;

/// The answer to a request asking for an upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// No upgrade was asked for.
    NotAsked,
    /// Asked for: the answer's first bytes so far.
    Waiting { start: [u8; 12], len: u8 },
    /// `101 Switching Protocols`.
    Switched,
    /// Anything else.
    Refused,
}

/// A read or write error, or the refusal of a request's framing (answered by the connection).
#[derive(Debug)]
pub enum SocketError {
    /// The socket failed.
    Io(std::io::Error),
    /// The request's framing is refused: [`Framed::stopped`] says why.
    Refused,
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::Io(e) => e.fmt(f),
            SocketError::Refused => f.write_str("the request's framing is refused"),
        }
    }
}

impl std::error::Error for SocketError {}

impl picoserve::io::Error for SocketError {
    fn kind(&self) -> picoserve::io::ErrorKind {
        match self {
            SocketError::Io(_) => picoserve::io::ErrorKind::Other,
            SocketError::Refused => picoserve::io::ErrorKind::InvalidData,
        }
    }
}

/// Why picoserve's `serve` returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// A request was answered and the connection is kept alive: wait for the next head.
    Parked,
    /// The next request's framing is refused: answer it and close.
    Violation(Violation),
    /// The connection is done (closed by either side, an error, a WebSocket that ended).
    Closed,
}

/// What the read half keeps between reads.
#[derive(Debug)]
struct ReadSide {
    tracker: Tracker,
    /// Bytes read from the socket and not handed to picoserve yet.
    held: Vec<u8>,
    /// `held[..pos]` was handed over.
    pos: usize,
    /// `held[pos..fed]` went through the tracker: the rest of the current request.
    fed: usize,
    violation: Option<Violation>,
    /// The read half reported the end of the stream between two requests.
    parked: bool,
}

impl ReadSide {
    /// Everything held was handed over: the memory goes (an idle connection keeps none).
    fn release_if_done(&mut self) {
        if self.pos == self.held.len() {
            self.held = Vec::new();
            self.pos = 0;
            self.fed = 0;
        }
    }

    /// Copies up to `buf.len()` held bytes from `from`.
    fn copy_held(&self, from: usize, to: usize, buf: &mut [u8]) -> usize {
        let n = buf.len().min(to - from);
        buf[..n].copy_from_slice(&self.held[from..from + n]);
        n
    }
}

/// A connection's stream with its request framing.
#[derive(Debug)]
pub struct Framed {
    stream: TcpStream,
    side: ReadSide,
    answer: Cell<Answer>,
}

impl Framed {
    /// A new connection, before its first request.
    pub fn new(stream: TcpStream) -> Framed {
        Framed {
            stream,
            side: ReadSide {
                tracker: Tracker::new(),
                held: Vec::new(),
                pos: 0,
                fed: 0,
                violation: None,
                parked: false,
            },
            answer: Cell::new(Answer::NotAsked),
        }
    }

    /// The stream itself, to answer a violation.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Follows the held bytes not seen yet: `Some(Ok)` once the next request is held whole (or
    /// its head, if head and body together exceed [`super::REQUEST_BUFFER`]: picoserve refuses
    /// that body), `Some(Err)` if its framing is refused, `None` while more bytes are needed.
    pub fn next_request(&mut self) -> Option<Result<(), Violation>> {
        let side = &mut self.side;
        while side.fed < side.held.len() {
            let (n, event) = side.tracker.feed(&side.held[side.fed..]);
            side.fed += n;
            match event {
                Some(Ok(Event::HeadEnd)) => {
                    let (head, body, _) = side.tracker.last_head();
                    if head.saturating_add(body) > super::REQUEST_BUFFER {
                        return Some(Ok(()));
                    }
                }
                Some(Ok(Event::RequestEnd | Event::UpgradeEnd)) => return Some(Ok(())),
                Some(Err(v)) => return Some(Err(v)),
                None => {}
            }
        }
        None
    }

    /// Some bytes of the next request have come, not all of it.
    pub fn in_request(&self) -> bool {
        !self.side.tracker.at_boundary()
    }

    /// Reads more bytes to hold, while waiting for a request (cancel-safe): `Ok(0)` when the
    /// client closed. What is held grows with what the client sent, not with what it announced.
    pub async fn fill(&mut self) -> std::io::Result<usize> {
        let side = &mut self.side;
        if side.pos > 0 {
            side.held.drain(..side.pos);
            side.fed -= side.pos;
            side.pos = 0;
        }
        if side.held.capacity() - side.held.len() < READ_CHUNK / 2 {
            side.held.reserve(READ_CHUNK);
        }
        self.stream.read_buf(&mut side.held).await
    }

    /// Prepares to serve the request [`Framed::next_request`] found: returns the buffer picoserve
    /// needs for it: the head and the body, read at once (1 to 32 KiB); the head alone when the
    /// two exceed [`super::REQUEST_BUFFER`] (the body is refused, 413, either way).
    pub fn begin(&mut self) -> usize {
        let (head, body, upgrade) = self.side.tracker.last_head();
        self.answer.set(if upgrade {
            Answer::Waiting {
                start: [0; 12],
                len: 0,
            }
        } else {
            Answer::NotAsked
        });
        self.side.parked = false;
        let whole = head.saturating_add(body);
        let needed = if whole > super::REQUEST_BUFFER {
            head
        } else {
            whole
        };
        needed.max(1024).next_power_of_two()
    }

    /// Why `serve` returned.
    pub fn stopped(&mut self) -> Stopped {
        if let Some(v) = self.side.violation.take() {
            Stopped::Violation(v)
        } else if self.side.parked {
            Stopped::Parked
        } else {
            Stopped::Closed
        }
    }
}

/// The read half picoserve reads requests from.
#[derive(Debug)]
pub struct FramedRead<'a> {
    inner: ReadHalf<'a>,
    side: &'a mut ReadSide,
    answer: &'a Cell<Answer>,
}

impl ErrorType for FramedRead<'_> {
    type Error = SocketError;
}

impl Read for FramedRead<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, SocketError> {
        let side = &mut *self.side;
        if side.violation.is_some() {
            return Err(SocketError::Refused);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // The rest of the current request, already followed (the upgrade request itself too).
        if side.pos < side.fed {
            let n = side.copy_held(side.pos, side.fed, buf);
            side.pos += n;
            side.release_if_done();
            return Ok(n);
        }
        match side.tracker.phase() {
            Phase::Http => {}
            Phase::AfterUpgrade => match self.answer.get() {
                Answer::Switched => side.tracker.pass_through(),
                // Not upgraded: nothing more is read on this connection.
                _ => return Ok(0),
            },
            Phase::PassThrough => {}
        }
        if side.tracker.phase() == Phase::PassThrough {
            if side.pos < side.held.len() {
                let n = side.copy_held(side.pos, side.held.len(), buf);
                side.pos += n;
                side.release_if_done();
                return Ok(n);
            }
            return self.inner.read(buf).await.map_err(SocketError::Io);
        }
        // Between two requests: `serve` ends here, and the connection waits for the next head.
        if side.tracker.at_boundary() {
            side.parked = true;
            return Ok(0);
        }
        // More of the current request, from what is held or from the socket.
        let from_held = side.fed < side.held.len();
        let n = if from_held {
            side.copy_held(side.fed, side.held.len(), buf)
        } else {
            let n = self.inner.read(buf).await.map_err(SocketError::Io)?;
            if n == 0 {
                return Ok(0);
            }
            n
        };
        let mut used = 0;
        while used < n {
            let (k, event) = side.tracker.feed(&buf[used..n]);
            used += k;
            match event {
                None | Some(Ok(Event::HeadEnd)) => {}
                // One request per read: the next one waits until this one is answered.
                Some(Ok(Event::RequestEnd | Event::UpgradeEnd)) => break,
                Some(Err(v)) => {
                    side.violation = Some(v);
                    return Err(SocketError::Refused);
                }
            }
        }
        if from_held {
            side.fed += used;
            side.pos = side.fed;
            side.release_if_done();
        } else if used < n {
            side.held = buf[used..n].to_vec();
            side.pos = 0;
            side.fed = 0;
        }
        Ok(used)
    }
}

/// The most an answer's bytes are gathered before they are sent. picoserve writes an answer's
/// head a header (or a piece of one) at a time and flushes after the head and after the body:
/// gathered, a small answer is one `write(2)` and one TCP segment instead of dozens.
const WRITE_GATHER: usize = 16 * 1024;

/// The write half picoserve answers on: writes are gathered until picoserve flushes (after an
/// answer's head, after its body, after each WebSocket message the gateway sends).
#[derive(Debug)]
pub struct FramedWrite<'a> {
    inner: WriteHalf<'a>,
    answer: &'a Cell<Answer>,
    pending: Vec<u8>,
}

impl FramedWrite<'_> {
    /// Reads the status of the answer to a request asking for an upgrade.
    fn watch(&self, written: &[u8]) {
        let Answer::Waiting { mut start, len } = self.answer.get() else {
            return;
        };
        let len = usize::from(len);
        let n = (start.len() - len).min(written.len());
        start[len..len + n].copy_from_slice(&written[..n]);
        let len = len + n;
        self.answer.set(if len < start.len() {
            Answer::Waiting {
                start,
                len: len as u8,
            }
        } else if &start == b"HTTP/1.1 101" {
            Answer::Switched
        } else {
            Answer::Refused
        });
    }
}

impl ErrorType for FramedWrite<'_> {
    type Error = SocketError;
}

impl FramedWrite<'_> {
    /// Sends what is gathered.
    async fn send_pending(&mut self) -> Result<(), SocketError> {
        if !self.pending.is_empty() {
            self.inner
                .write_all(&self.pending)
                .await
                .map_err(SocketError::Io)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Gathers `bytes`, sending first if they would not fit.
    async fn gather(&mut self, bytes: &[u8]) -> Result<(), SocketError> {
        self.watch(bytes);
        if self.pending.len() + bytes.len() > WRITE_GATHER {
            self.send_pending().await?;
        }
        if bytes.len() >= WRITE_GATHER {
            // A large body goes out as it is.
            return self.inner.write_all(bytes).await.map_err(SocketError::Io);
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }
}

impl picoserve::io::BaseWrite for FramedWrite<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, SocketError> {
        self.gather(buf).await?;
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), SocketError> {
        self.send_pending().await?;
        self.inner.flush().await.map_err(SocketError::Io)
    }
}

impl picoserve::io::Write for FramedWrite<'_> {
    async fn write_with<F: FnOnce(BorrowedCursor<'_>) -> R, R>(
        &mut self,
        f: F,
    ) -> Result<R, SocketError> {
        // As picoserve writes to a TcpStream: formatted into a small buffer, then gathered.
        let mut storage = [0; 1024];
        let mut buffer = BorrowedBuffer::new(&mut storage);
        let output = f(buffer.unfilled());
        self.gather(buffer.filled()).await?;
        Ok(output)
    }
}

impl picoserve::io::Socket<picoserve::TokioRuntime> for &mut Framed {
    type Error = SocketError;
    type ReadHalf<'a>
        = FramedRead<'a>
    where
        Self: 'a;
    type WriteHalf<'a>
        = FramedWrite<'a>
    where
        Self: 'a;

    fn split(&mut self) -> (FramedRead<'_>, FramedWrite<'_>) {
        let Framed {
            stream,
            side,
            answer,
        } = &mut **self;
        let answer: &Cell<Answer> = answer;
        let (read, write) = stream.split();
        (
            FramedRead {
                inner: read,
                side,
                answer,
            },
            FramedWrite {
                inner: write,
                answer,
                pending: Vec::new(),
            },
        )
    }

    async fn abort<T: picoserve::Timer<picoserve::TokioRuntime>>(
        self,
        _timeouts: &picoserve::Timeouts,
        _timer: &T,
    ) -> Result<(), picoserve::Error<SocketError>> {
        // The connection closes the stream (or answers a violation first).
        Ok(())
    }

    async fn shutdown<T: picoserve::Timer<picoserve::TokioRuntime>>(
        self,
        timeouts: &picoserve::Timeouts,
        timer: &T,
    ) -> Result<(), picoserve::Error<SocketError>> {
        if self.side.parked {
            // Kept alive: the connection waits for the next request.
            return Ok(());
        }
        // As picoserve shuts a TcpStream down: FIN, then what the client still sends is read
        // until it closes, so the answer is not lost to a reset.
        timer
            .run_with_timeout(timeouts.write, AsyncWriteExt::shutdown(&mut self.stream))
            .await
            .map_err(picoserve::Error::WriteTimeout)?
            .map_err(|e| picoserve::Error::Write(SocketError::Io(e)))?;
        let mut buffer = [0; 128];
        while timer
            .run_with_timeout(timeouts.read_request, self.stream.read(&mut buffer))
            .await
            .map_err(picoserve::Error::ReadTimeout)?
            .map_err(|e| picoserve::Error::Read(SocketError::Io(e)))?
            > 0
        {}
        Ok(())
    }
}
