//! The LED matrix as the node drives it: a picture, a rotation, and text that scrolls.

use embedded_hal_async::i2c::I2c;
use heapless::String;
use sense_display::font;
use sense_ledmatrix::asynch::SenseHatMatrix;
use sense_ledmatrix::{Frame, Rgb, Rotation};
use sense_node_proto::message::LED_TEXT_CAPACITY;
use sense_node_proto::{ReplyError, SensorError};

/// Time per one-column step of text wider than the matrix, in milliseconds.
pub const SCROLL_STEP_MS: u32 = 80;

/// The colour of LED text.
pub const TEXT_COLOUR: Rgb = Rgb::WHITE;

/// Matrix columns.
const SIZE: i32 = sense_ledmatrix::led::SIZE as i32;

/// Why a matrix command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MatrixError {
    /// The chip failed: a Status, and the reply says `Hardware`.
    Bus(SensorError),
    /// The command cannot be carried out: the reply says why.
    Reply(ReplyError),
}

fn sensor_error<E: embedded_hal_async::i2c::Error>(
    error: &sense_ledmatrix::Error<E>,
) -> SensorError {
    match error {
        sense_ledmatrix::Error::I2c(e) => SensorError::from(e.kind()),
        sense_ledmatrix::Error::UnexpectedDevice(_) => SensorError::WrongId,
    }
}

/// Text wider than the matrix, entering at the right edge and leaving at the left.
#[derive(Debug)]
struct Scroll {
    text: String<LED_TEXT_CAPACITY>,
    /// Width of the text in columns.
    width: i32,
    /// Steps taken: the text's first column is at matrix column `SIZE - 1 - step`.
    step: i32,
}

impl Scroll {
    fn x(&self) -> i32 {
        SIZE - 1 - self.step
    }
}

/// The Sense HAT's matrix, initialised lazily and again after any failure.
#[derive(Debug)]
pub(crate) struct Matrix<M> {
    driver: SenseHatMatrix<M>,
    ready: bool,
    rotation: Rotation,
    /// What is shown, upright (before the rotation).
    picture: Frame,
    scroll: Option<Scroll>,
}

impl<M: I2c> Matrix<M> {
    pub(crate) fn new(i2c: M) -> Self {
        Matrix {
            driver: SenseHatMatrix::new(i2c),
            ready: false,
            rotation: Rotation::Deg0,
            picture: Frame::BLACK,
            scroll: None,
        }
    }

    /// When the next scroll step is due, `None` when nothing scrolls.
    pub(crate) fn next_step_in(&self) -> Option<u32> {
        self.scroll.as_ref().map(|_| SCROLL_STEP_MS)
    }

    /// Writes the picture, turned for the rotation; initialises the chip first when needed.
    async fn write(&mut self) -> Result<(), SensorError> {
        if !self.ready {
            self.driver.init().await.map_err(|e| sensor_error(&e))?;
            self.ready = true;
        }
        let result = self.driver.show(&self.picture, self.rotation).await;
        self.ready = result.is_ok();
        result.map_err(|e| sensor_error(&e))
    }

    /// Shows `text`: centred when it fits the matrix, else scrolling from the right edge (one
    /// column every [`SCROLL_STEP_MS`]) until it has left at the left edge, then dark.
    pub(crate) async fn show_text(&mut self, text: &str) -> Result<(), MatrixError> {
        let width = i32::try_from(font::text_width(text)).unwrap_or(i32::MAX);
        self.picture = Frame::BLACK;
        if width <= SIZE {
            self.scroll = None;
            font::draw(&mut self.picture, text, (SIZE - width) / 2, TEXT_COLOUR);
        } else {
            let mut owned = String::new();
            // Cannot fail: the command's text has the same capacity.
            let _ = owned.push_str(text);
            let scroll = Scroll {
                text: owned,
                width,
                step: 0,
            };
            font::draw(&mut self.picture, text, scroll.x(), TEXT_COLOUR);
            self.scroll = Some(scroll);
        }
        self.show_or_stop().await
    }

    /// Turns the matrix: the picture is shown again, turned.
    pub(crate) async fn rotate(&mut self, rotation: Rotation) -> Result<(), MatrixError> {
        self.rotation = rotation;
        self.show_or_stop().await
    }

    /// Switches every LED off and stops any scrolling.
    pub(crate) async fn clear(&mut self) -> Result<(), MatrixError> {
        self.scroll = None;
        self.picture = Frame::BLACK;
        self.show_or_stop().await
    }

    /// Writes the picture; a failure stops the scrolling (no Status every step).
    async fn show_or_stop(&mut self) -> Result<(), MatrixError> {
        let result = self.write().await;
        if result.is_err() {
            self.scroll = None;
        }
        result.map_err(MatrixError::Bus)
    }

    /// Moves the scrolling text one column left; dark once it has left.
    pub(crate) async fn step(&mut self) -> Result<(), SensorError> {
        let Some(scroll) = self.scroll.as_mut() else {
            return Ok(());
        };
        scroll.step += 1;
        self.picture = Frame::BLACK;
        if scroll.x() + scroll.width <= 0 {
            self.scroll = None;
        } else {
            font::draw(&mut self.picture, &scroll.text, scroll.x(), TEXT_COLOUR);
        }
        self.show_or_stop().await.map_err(|e| match e {
            MatrixError::Bus(e) => e,
            MatrixError::Reply(_) => SensorError::Bus,
        })
    }
}
