//! One serial port's conversation with a node: frames in, events out, the link's health counted.

use sense_bus::NodeSourceId;
use sense_bus::model::{LinkHealth, Measurement};
use sense_node_proto::{
    Capabilities, Command, CommandKind, Decoder, Encoder, FrameError, Hello, HostMessage,
    MAX_FRAME_LEN, NodeMessage, ProtocolVersion, Quantity, ReplyError, Sensor, SensorError,
};
use serde_json::{Map, Value as Json};

use crate::commands::{CommandError, to_kind};

/// Who the node on the line is, from its Hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its source id on the bus, from its name.
    pub id: NodeSourceId,
    /// The name it gave.
    pub name: String,
    /// Its firmware version.
    pub firmware: String,
    /// The protocol version it speaks.
    pub protocol: ProtocolVersion,
    /// What it measures and drives.
    pub capabilities: Capabilities,
}

impl NodeInfo {
    fn from_hello(hello: &Hello) -> Option<NodeInfo> {
        Some(NodeInfo {
            id: NodeSourceId::from_node_name(&hello.node_id)?,
            name: hello.node_id.as_str().to_owned(),
            firmware: hello.firmware_version.as_str().to_owned(),
            protocol: hello.protocol_version,
            capabilities: hello.capabilities,
        })
    }

    /// Whether this runtime speaks the node's protocol (same major version).
    pub fn compatible(&self) -> bool {
        ProtocolVersion::CURRENT.is_compatible_with(self.protocol)
    }

    /// The sensor ids the node measures.
    pub fn measures(&self) -> Vec<String> {
        [
            Quantity::Temperature,
            Quantity::Humidity,
            Quantity::Pressure,
        ]
        .into_iter()
        .filter(|q| Capabilities::for_quantity(*q).is_some_and(|c| self.capabilities.contains(c)))
        .filter_map(|q| q.sensor_id().map(str::to_owned))
        .collect()
    }

    /// Whether it drives an LED matrix.
    pub fn led_matrix(&self) -> bool {
        self.capabilities.contains(Capabilities::LED_MATRIX)
    }
}

/// One round of the node's readings.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// The node's count of its rounds.
    pub seq: u32,
    /// What it measured, as the Sense HAT source would publish it.
    pub measurements: Vec<Measurement>,
    /// The sensors that failed since the previous round, each in words.
    pub failed: Vec<String>,
}

/// What the bytes from the node said.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The node said who it is (after its start, or when asked with [`Session::identify`]).
    Hello(NodeInfo),
    /// A node whose name gives no source id, or whose protocol this runtime does not speak:
    /// nothing it sends is used. In words.
    Refused(String),
    /// A round of readings, from a node that said hello.
    Round(Round),
    /// The node's answer to the command `id`.
    Reply {
        /// The command's id, as [`Session::command`] returned it.
        id: u32,
        /// Done, or why not.
        result: Result<(), ReplyError>,
    },
    /// A frame was skipped: damaged, cut, from another protocol, or before a Hello.
    Skipped(FrameError),
}

/// A sensor's failure in words.
fn failure_in_words(sensor: Sensor, error: SensorError) -> String {
    let chip = match sensor {
        Sensor::Hts221 => "HTS221 (temperature, humidity)".to_owned(),
        Sensor::Lps25h => "LPS25H (pressure)".to_owned(),
        Sensor::LedMatrix => "LED matrix".to_owned(),
        Sensor::Unknown(code) => format!("sensor {code}"),
    };
    let what = match error {
        SensorError::NoAcknowledge => "does not answer on I2C (not connected, or not powered?)",
        SensorError::Bus => "I2C bus error",
        SensorError::WrongId => "answered with an unexpected identity (another chip?)",
        SensorError::NotReady => "had no new sample in time",
        SensorError::Calibration => "its calibration data is unusable",
        SensorError::Unknown(_) => "failed (a reason this runtime does not know)",
    };
    format!("{chip}: {what}")
}

/// The conversation on one port. See the [crate documentation](crate).
#[derive(Debug)]
pub struct Session {
    port: String,
    decoder: Decoder<NodeMessage>,
    open: bool,
    node: Option<NodeInfo>,
    /// The failures reported since the last round.
    failing: Vec<String>,
    last_seq: Option<u32>,
    next_command: u32,
    health: LinkHealth,
}

impl Session {
    /// A session on `port` (closed until [`opened`](Self::opened)), at `now` (Unix seconds).
    pub fn new(port: &str, now: f64) -> Session {
        Session {
            port: port.to_owned(),
            decoder: Decoder::new(),
            open: false,
            node: None,
            failing: Vec::new(),
            last_seq: None,
            next_command: 1,
            health: LinkHealth {
                port: port.to_owned(),
                connected: false,
                since: now,
                last_frame: None,
                frames: 0,
                bad_frames: 0,
                restarts: 0,
                firmware: None,
                protocol: None,
                measures: Vec::new(),
                led_matrix: false,
            },
        }
    }

    /// The port.
    pub fn port(&self) -> &str {
        &self.port
    }

    /// The node, once it said hello (kept after the port closes: its source still says it).
    pub fn node(&self) -> Option<&NodeInfo> {
        self.node.as_ref()
    }

    /// The link's health now.
    pub fn health(&self) -> &LinkHealth {
        &self.health
    }

    /// The port was opened: a frame cut by the previous closing is dropped, and the node is
    /// asked who it is (send the returned frame).
    pub fn opened(&mut self) -> Vec<u8> {
        self.open = true;
        self.decoder.reset();
        self.identify()
    }

    /// The port was closed or went away (unplugged) at `now`.
    pub fn closed(&mut self, now: f64) {
        self.open = false;
        self.decoder.reset();
        self.set_connected(false, now);
    }

    fn set_connected(&mut self, connected: bool, now: f64) {
        if self.health.connected != connected {
            self.health.connected = connected;
            self.health.since = now;
        }
    }

    /// Takes bytes read from the port at `now`; what the frames they complete said.
    pub fn feed(&mut self, bytes: &[u8], now: f64) -> Vec<Event> {
        let mut messages = Vec::new();
        for decoded in self.decoder.feed(bytes) {
            messages.push(decoded);
        }
        let mut events = Vec::new();
        for decoded in messages {
            match decoded {
                Ok(message) => match self.receive(message, now) {
                    Ok(event) => {
                        self.health.frames += 1;
                        self.health.last_frame = Some(now);
                        events.extend(event);
                    }
                    // Good bytes, but from a node not (yet) usable: counted with the skipped.
                    Err(()) => self.health.bad_frames += 1,
                },
                // A newer node's new kind of message: nothing wrong with the link.
                Err(FrameError::Unsupported { .. }) => {}
                Err(error) => {
                    self.health.bad_frames += 1;
                    events.push(Event::Skipped(error));
                }
            }
        }
        events
    }

    /// What a message means; `Err` for one from a node that has not said hello (or that this
    /// runtime cannot use): nothing it says has a source to go to.
    fn receive(&mut self, message: NodeMessage, now: f64) -> Result<Option<Event>, ()> {
        if let NodeMessage::Hello(hello) = &message {
            return Ok(Some(self.hello(hello, now)));
        }
        if !self.node.as_ref().is_some_and(NodeInfo::compatible) || !self.health.connected {
            return Err(());
        }
        Ok(match message {
            NodeMessage::Hello(_) => None,
            NodeMessage::Status(status) => {
                self.failing
                    .push(failure_in_words(status.sensor, status.error));
                None
            }
            NodeMessage::Readings(readings) => {
                // A count that goes back is a node that started again (reset, or replugged:
                // USB powers it).
                // (A count that wrapped around goes back by nearly all of `u32`.)
                if self
                    .last_seq
                    .is_some_and(|last| readings.seq < last && last - readings.seq <= u32::MAX / 2)
                {
                    self.health.restarts += 1;
                }
                self.last_seq = Some(readings.seq);
                let measurements = readings
                    .readings
                    .iter()
                    .filter_map(|r| r.to_measurement::<String>())
                    .collect();
                Some(Event::Round(Round {
                    seq: readings.seq,
                    measurements,
                    failed: std::mem::take(&mut self.failing),
                }))
            }
            NodeMessage::Reply(reply) => Some(Event::Reply {
                id: reply.id,
                result: reply.result,
            }),
        })
    }

    fn hello(&mut self, hello: &Hello, now: f64) -> Event {
        let Some(info) = NodeInfo::from_hello(hello) else {
            self.set_connected(false, now);
            return Event::Refused(format!(
                "the node on {} calls itself `{}`, which gives no source id (use letters or digits)",
                self.port,
                hello.node_id.as_str()
            ));
        };
        self.health.firmware = Some(info.firmware.clone());
        self.health.protocol = Some(info.protocol.to_string());
        self.health.measures = info.measures();
        self.health.led_matrix = info.led_matrix();
        let compatible = info.compatible();
        self.node = Some(info.clone());
        if !compatible {
            self.set_connected(false, now);
            return Event::Refused(format!(
                "the node `{}` on {} speaks protocol {}; this runtime speaks {} (update the {})",
                info.name,
                self.port,
                info.protocol,
                ProtocolVersion::CURRENT,
                if info.protocol > ProtocolVersion::CURRENT {
                    "runtime"
                } else {
                    "node's firmware"
                }
            ));
        }
        self.set_connected(self.open, now);
        Event::Hello(info)
    }

    /// The frame that asks the node to say hello.
    pub fn identify(&mut self) -> Vec<u8> {
        self.frame(CommandKind::Identify).1
    }

    /// The frame that carries the bus command `action` to the node, and the id its reply will
    /// carry; or why it cannot be sent.
    pub fn command(
        &mut self,
        action: &str,
        params: &Map<String, Json>,
    ) -> Result<(u32, Vec<u8>), CommandError> {
        let kind = to_kind(action, params)?;
        let Some(node) = self.node.as_ref().filter(|_| self.health.connected) else {
            return Err(CommandError(format!(
                "the node on {} is not connected",
                self.port
            )));
        };
        if !node.led_matrix() {
            return Err(CommandError(format!(
                "the node `{}` has no LED matrix",
                node.name
            )));
        }
        Ok(self.frame(kind))
    }

    fn frame(&mut self, kind: CommandKind) -> (u32, Vec<u8>) {
        let id = self.next_command;
        self.next_command = self.next_command.wrapping_add(1).max(1);
        let mut frame = [0u8; MAX_FRAME_LEN];
        // The commands this runtime builds fit a frame: the text is bounded by its capacity.
        let n = Encoder::new()
            .encode(&HostMessage::Command(Command { id, kind }), &mut frame)
            .unwrap_or(0);
        (id, frame[..n].to_vec())
    }
}
