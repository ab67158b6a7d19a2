#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// `Link` uses `async fn`: its futures carry no `Send` bound, like sense-hal's traits (the node runs
// on one executor thread).
#![allow(async_fn_in_trait)]

mod matrix;

use core::convert::Infallible;
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::Poll;

use embassy_futures::select::{Either3, select3};
use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;
use sense_hts221::asynch::Hts221;
use sense_lps25h::Address;
use sense_lps25h::asynch::Lps25h;
use sense_node_proto::{
    Capabilities, Command, CommandKind, Decoder, Encoder, Hello, HostMessage, MAX_FRAME_LEN,
    NodeMessage, Quantity, Reading, Readings, Reply, ReplyError, Sensor, SensorError, Status,
};

use matrix::{Matrix, MatrixError};
pub use matrix::{SCROLL_STEP_MS, TEXT_COLOUR};

/// The node's serial link (USB CDC-ACM on the Pico, a pipe or pty on the host).
///
/// `receive` must be **cancel-safe**: [`Node::run`] drops its future when a timer fires first,
/// and bytes must not be lost then (embassy-usb's `CdcAcmClass::read_packet` and a pipe's read
/// are: nothing is consumed until the future completes).
pub trait Link {
    /// Why the link failed (the host went away, the cable was pulled).
    type Error: core::fmt::Debug;
    /// Sends all of `bytes` (one whole frame at a time).
    async fn send(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
    /// Some bytes (at least one) into `buf`, as they arrive.
    async fn receive(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
}

/// Who the node is and how often it measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// The node's name in its Hello (at most 32 bytes; longer is cut at a character boundary).
    pub id: &'static str,
    /// The firmware version in its Hello (at most 24 bytes; longer is cut likewise).
    pub firmware_version: &'static str,
    /// Time between two rounds of readings, in milliseconds (0 is taken as 1).
    pub period_ms: u32,
}

/// Bytes read from the link at a time.
const RECEIVE_CHUNK: usize = 64;

/// What the sensor drivers' errors say on the wire.
trait ToSensorError {
    fn to_sensor_error(&self) -> SensorError;
}

impl<E: embedded_hal_async::i2c::Error> ToSensorError for sense_hts221::Error<E> {
    fn to_sensor_error(&self) -> SensorError {
        match self {
            sense_hts221::Error::I2c(e) => SensorError::from(e.kind()),
            sense_hts221::Error::UnexpectedDevice(_) => SensorError::WrongId,
            sense_hts221::Error::BadCalibration => SensorError::Calibration,
            sense_hts221::Error::ConversionTimeout | sense_hts221::Error::NotInitialized => {
                SensorError::NotReady
            }
        }
    }
}

impl<E: embedded_hal_async::i2c::Error> ToSensorError for sense_lps25h::Error<E> {
    fn to_sensor_error(&self) -> SensorError {
        match self {
            sense_lps25h::Error::I2c(e) => SensorError::from(e.kind()),
            sense_lps25h::Error::UnexpectedDevice(_) => SensorError::WrongId,
            sense_lps25h::Error::ConversionTimeout | sense_lps25h::Error::NotInitialized => {
                SensorError::NotReady
            }
        }
    }
}

/// Counters of what the node did since it was made, for a board's logs and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Readings frames sent.
    pub readings: u32,
    /// Status frames sent.
    pub statuses: u32,
    /// Commands answered.
    pub commands: u32,
    /// Frames from the host that did not decode (garbage, damage, another version): skipped.
    pub bad_frames: u32,
}

/// The node's firmware logic: the Sense HAT's sensors and LED matrix on I2C, the protocol on a
/// [`Link`]. See the [crate documentation](crate).
#[derive(Debug)]
pub struct Node<H, P, M, D> {
    config: NodeConfig,
    hts221: Hts221<H, D>,
    /// `init` succeeded and no read failed since: otherwise `init` again before reading.
    hts221_ready: bool,
    lps25h: Lps25h<P, D>,
    lps25h_ready: bool,
    matrix: Option<Matrix<M>>,
    delay: D,
    seq: u32,
    stats: NodeStats,
}

/// A wait of `ms` milliseconds on a delay of its own, or forever for `None`. One function, so the
/// period's and the scroll's timers have one type and are re-armed in place.
async fn wait_ms<D: DelayNs>(mut delay: D, ms: Option<u32>) {
    match ms {
        Some(ms) => delay.delay_ms(ms).await,
        None => core::future::pending().await,
    }
}

/// Polls `timer` once, in the caller's task, so that its time starts now (a delay reads the clock
/// on its first poll); whether it is already over (then it must not be polled again).
async fn start<F: Future<Output = ()>>(timer: Pin<&mut F>) -> bool {
    let mut timer = Some(timer);
    poll_fn(|cx| Poll::Ready(timer.take().is_some_and(|t| t.poll(cx).is_ready()))).await
}

/// Encodes `message` as one frame and sends it.
async fn send<L: Link>(link: &mut L, message: &NodeMessage) -> Result<(), L::Error> {
    let mut frame = [0u8; MAX_FRAME_LEN];
    // Every message the node builds fits a frame (the proto's capacities make sure of it); a
    // message that did not would be dropped rather than take the node down.
    match Encoder::new().encode(message, &mut frame) {
        Ok(n) => link.send(&frame[..n]).await,
        Err(_) => Ok(()),
    }
}

/// The longest prefix of `s` within `max` bytes, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl<H, P, M, D> Node<H, P, M, D>
where
    H: I2c,
    P: I2c,
    M: I2c,
    D: DelayNs + Clone,
{
    /// The HTS221, the LPS25H and (if connected) the LED matrix, each on its own I2C handle (the
    /// board decides how one bus is shared: embassy-embedded-hal's I2cDevice on the Pico).
    ///
    /// Nothing is sent on the buses yet: the chips are initialised by [`run`](Self::run), and
    /// again after any failure.
    pub fn new(config: NodeConfig, hts221: H, lps25h: P, matrix: Option<M>, delay: D) -> Self {
        Node {
            config,
            hts221: Hts221::new(hts221, delay.clone()),
            hts221_ready: false,
            lps25h: Lps25h::new(lps25h, delay.clone(), Address::SENSE_HAT),
            lps25h_ready: false,
            matrix: matrix.map(Matrix::new),
            delay,
            seq: 0,
            stats: NodeStats::default(),
        }
    }

    /// The configuration the node was made with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// What the node did so far.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// What the node can do, as its Hello says: the three quantities, and the LED matrix when one
    /// was given.
    pub fn capabilities(&self) -> Capabilities {
        let sensors = Capabilities::TEMPERATURE | Capabilities::HUMIDITY | Capabilities::PRESSURE;
        if self.matrix.is_some() {
            sensors | Capabilities::LED_MATRIX
        } else {
            sensors
        }
    }

    /// The Hello this node sends first.
    pub fn hello(&self) -> Hello {
        let id = truncate(self.config.id, sense_node_proto::message::NODE_ID_CAPACITY);
        let version = truncate(
            self.config.firmware_version,
            sense_node_proto::message::FIRMWARE_VERSION_CAPACITY,
        );
        // Cannot fail: both strings are cut to their capacities.
        Hello::new(id, version, self.capabilities()).unwrap_or(Hello {
            protocol_version: sense_node_proto::ProtocolVersion::CURRENT,
            node_id: heapless::String::new(),
            firmware_version: heapless::String::new(),
            capabilities: self.capabilities(),
        })
    }

    /// Hello, then every `period_ms` a Readings frame (and a Status frame for a sensor that does
    /// not answer: reported, not fatal, retried next period), while commands from the link are
    /// answered (LED text, rotation, clear: a Reply with the command's id, Unsupported for unknown
    /// kinds). Returns only when the link fails.
    ///
    /// The first readings are taken right after the Hello. Nothing allocates; the future holds
    /// the frame buffers (a few hundred bytes).
    pub async fn run<L: Link>(&mut self, link: &mut L) -> L::Error {
        match self.run_inner(link).await {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    async fn run_inner<L: Link>(&mut self, link: &mut L) -> Result<Infallible, L::Error> {
        let hello = self.hello();
        send(link, &NodeMessage::Hello(hello)).await?;

        let period = self.config.period_ms.max(1);
        let mut decoder = Decoder::<HostMessage>::new();
        let mut buf = [0u8; RECEIVE_CHUNK];
        let mut period_timer = pin!(wait_ms(self.delay.clone(), Some(period)));
        let mut scroll_timer = pin!(wait_ms(self.delay.clone(), None));
        // Every timer is started before the work it paces, so a period does not stretch by the
        // time its reads take (up to about a second with stuck sensors), nor a scroll step by
        // its write.
        if start(period_timer.as_mut()).await {
            period_timer.set(wait_ms(self.delay.clone(), Some(0)));
        }
        self.measure(link).await?;
        loop {
            let event = select3(
                period_timer.as_mut(),
                scroll_timer.as_mut(),
                link.receive(&mut buf),
            )
            .await;
            match event {
                Either3::First(()) => {
                    period_timer.set(wait_ms(self.delay.clone(), Some(period)));
                    if start(period_timer.as_mut()).await {
                        // The whole period went by at once (a delay that does not wait): the
                        // next round is due now.
                        period_timer.set(wait_ms(self.delay.clone(), Some(0)));
                    }
                    self.measure(link).await?;
                }
                Either3::Second(()) => {
                    let next = self.matrix.as_ref().and_then(Matrix::next_step_in);
                    scroll_timer.set(wait_ms(self.delay.clone(), next));
                    if start(scroll_timer.as_mut()).await {
                        scroll_timer.set(wait_ms(self.delay.clone(), next.map(|_| 0)));
                    }
                    self.scroll_step(link).await?;
                    if self
                        .matrix
                        .as_ref()
                        .and_then(Matrix::next_step_in)
                        .is_none()
                    {
                        // The text has left: nothing more to step.
                        scroll_timer.set(wait_ms(self.delay.clone(), None));
                    }
                }
                Either3::Third(received) => {
                    let n = received?.min(buf.len());
                    let mut restart_scroll = false;
                    for decoded in decoder.feed(&buf[..n]) {
                        match decoded {
                            Ok(HostMessage::Command(command)) => {
                                restart_scroll |= self.obey(link, command).await?;
                            }
                            // Garbage, damage, an echo, another version: skipped (the decoder
                            // resynchronises at the next delimiter).
                            Err(_) => self.stats.bad_frames = self.stats.bad_frames.wrapping_add(1),
                        }
                    }
                    if restart_scroll {
                        let next = self.matrix.as_ref().and_then(Matrix::next_step_in);
                        scroll_timer.set(wait_ms(self.delay.clone(), next));
                    }
                }
            }
        }
    }

    /// One round: reads both sensors, sends a Status for each that failed, then the Readings.
    async fn measure<L: Link>(&mut self, link: &mut L) -> Result<(), L::Error> {
        let mut readings = Readings::new(self.seq);
        self.seq = self.seq.wrapping_add(1);

        match self.read_hts221().await {
            Ok(m) => {
                let _ = readings.push(Reading::new(Quantity::Temperature, m.temperature_c));
                let _ = readings.push(Reading::new(Quantity::Humidity, m.humidity_percent));
            }
            Err(error) => self.status(link, Sensor::Hts221, error).await?,
        }
        match self.read_lps25h().await {
            Ok(m) => {
                let _ = readings.push(Reading::new(Quantity::Pressure, m.pressure_hpa));
            }
            Err(error) => self.status(link, Sensor::Lps25h, error).await?,
        }
        send(link, &NodeMessage::Readings(readings)).await?;
        self.stats.readings = self.stats.readings.wrapping_add(1);
        Ok(())
    }

    async fn status<L: Link>(
        &mut self,
        link: &mut L,
        sensor: Sensor,
        error: SensorError,
    ) -> Result<(), L::Error> {
        send(link, &NodeMessage::Status(Status { sensor, error })).await?;
        self.stats.statuses = self.stats.statuses.wrapping_add(1);
        Ok(())
    }

    async fn read_hts221(&mut self) -> Result<sense_hts221::Measurement, SensorError> {
        if !self.hts221_ready {
            self.hts221
                .init(sense_hts221::Mode::OneShot)
                .await
                .map_err(|e| e.to_sensor_error())?;
            self.hts221_ready = true;
        }
        let result = self.hts221.read().await;
        // After a failure the chip may have been reset or replaced: initialise it again.
        self.hts221_ready = result.is_ok();
        result.map_err(|e| e.to_sensor_error())
    }

    async fn read_lps25h(&mut self) -> Result<sense_lps25h::Measurement, SensorError> {
        if !self.lps25h_ready {
            self.lps25h
                .init(sense_lps25h::Mode::OneShot)
                .await
                .map_err(|e| e.to_sensor_error())?;
            self.lps25h_ready = true;
        }
        let result = self.lps25h.read().await;
        self.lps25h_ready = result.is_ok();
        result.map_err(|e| e.to_sensor_error())
    }

    /// Carries out `command` and replies. Returns whether a scroll started or stopped (its timer
    /// must be re-armed).
    async fn obey<L: Link>(&mut self, link: &mut L, command: Command) -> Result<bool, L::Error> {
        let before = self.matrix.as_ref().and_then(Matrix::next_step_in);
        let result = match (&mut self.matrix, command.kind) {
            (_, CommandKind::Identify) => {
                send(link, &NodeMessage::Hello(self.hello())).await?;
                Ok(())
            }
            (None, _) | (_, CommandKind::Unknown(_)) => {
                Err(MatrixError::Reply(ReplyError::Unsupported))
            }
            (Some(matrix), CommandKind::Text(text)) => matrix.show_text(&text).await,
            (Some(matrix), CommandKind::Rotate(rotation)) => matrix.rotate(rotation).await,
            (Some(matrix), CommandKind::Clear) => matrix.clear().await,
        };
        let result = match result {
            Err(MatrixError::Bus(error)) => {
                self.status(link, Sensor::LedMatrix, error).await?;
                Err(ReplyError::Hardware)
            }
            Err(MatrixError::Reply(error)) => Err(error),
            Ok(()) => Ok(()),
        };
        let reply = Reply {
            id: command.id,
            result,
        };
        send(link, &NodeMessage::Reply(reply)).await?;
        self.stats.commands = self.stats.commands.wrapping_add(1);
        let after = self.matrix.as_ref().and_then(Matrix::next_step_in);
        // A new text restarts the scroll's clock even when one was already running.
        Ok(before.is_some() || after.is_some())
    }

    /// Moves the scrolling text one column.
    async fn scroll_step<L: Link>(&mut self, link: &mut L) -> Result<(), L::Error> {
        let Some(matrix) = self.matrix.as_mut() else {
            return Ok(());
        };
        if let Err(error) = matrix.step().await {
            self.status(link, Sensor::LedMatrix, error).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn names_are_cut_to_their_capacity_at_a_character_boundary() {
        assert_eq!(truncate("pico", 32), "pico");
        assert_eq!(truncate("abcdef", 4), "abcd");
        // 'é' is two bytes: cutting inside it keeps the character out.
        assert_eq!(truncate("abcé", 4), "abc");
        assert_eq!(truncate("", 0), "");
    }
}
