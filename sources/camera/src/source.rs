//! The stream's state as a [`Source`], so the runtime's runner writes it like any other source:
//! readings, status (counters kept across runs), meta, `data:network_camera`, and survival of
//! Redis outages.

use sense_bus::SectionName;
use sense_bus::SourceId;
use sense_bus::config::Config;
use sense_bus::source::{PollContext, PollError, PollOutput, Source};
use tokio::sync::watch;

use crate::supervisor::{StreamState, StreamStatus};

/// Reports the latest [`StreamState`] the supervisor published. Each poll is a snapshot: the
/// `stream_*` readings, and as the error the stream's error while it is reconnecting or failed.
#[derive(Debug)]
pub struct StreamSource {
    state: watch::Receiver<StreamState>,
}

impl StreamSource {
    /// A source that reads the state sent on `state`'s channel.
    pub fn new(state: watch::Receiver<StreamState>) -> Self {
        StreamSource { state }
    }
}

impl Source for StreamSource {
    const ID: SourceId = SourceId::NetworkCamera;
    const SECTIONS: &'static [SectionName] = &[SectionName::Camera];
    type State = ();

    fn enabled(&self, config: &Config) -> bool {
        config.camera.cameras.iter().any(|c| c.enabled)
    }

    async fn poll(
        &mut self,
        _context: PollContext<'_>,
        _state: &mut (),
    ) -> Result<PollOutput, PollError> {
        let state = self.state.borrow_and_update().clone();
        let error = match state.status {
            StreamStatus::Reconnecting | StreamStatus::Error => state
                .error
                .clone()
                .or_else(|| Some(format!("the stream is {}", state.status))),
            _ => None,
        };
        Ok(PollOutput {
            measurements: state.measurements(),
            error,
            ..PollOutput::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use sense_bus::model::Value;
    use sense_bus::source::Inputs;

    use super::*;

    fn value<'a>(out: &'a PollOutput, sensor: &str) -> &'a Value {
        &out.measurements
            .iter()
            .find(|m| m.sensor == sensor)
            .unwrap_or_else(|| panic!("no {sensor} in {out:?}"))
            .value
    }

    #[tokio::test]
    async fn each_poll_reports_the_latest_state_and_its_error_only_while_broken() {
        let (tx, rx) = watch::channel(StreamState::default());
        let mut source = StreamSource::new(rx);
        let config = Config::default();
        let inputs = Inputs::new();
        let poll = async |source: &mut StreamSource| {
            source
                .poll(PollContext::new(&config, &inputs), &mut ())
                .await
                .unwrap()
        };

        let out = poll(&mut source).await;
        assert_eq!(value(&out, "stream_status"), &Value::Text("stopped".into()));
        assert_eq!(value(&out, "stream_connected"), &Value::Bool(false));
        assert_eq!(out.error, None);

        tx.send_replace(StreamState {
            status: StreamStatus::Reconnecting,
            error: Some("FFmpeg exited (signal: 9)".into()),
            reconnect_attempts: 1,
            ..StreamState::default()
        });
        let out = poll(&mut source).await;
        assert_eq!(
            value(&out, "stream_status"),
            &Value::Text("reconnecting".into())
        );
        assert_eq!(out.error.as_deref(), Some("FFmpeg exited (signal: 9)"));

        tx.send_replace(StreamState {
            status: StreamStatus::Streaming,
            connected: true,
            resolution: Some("640x360".into()),
            fps: Some(15),
            ..StreamState::default()
        });
        let out = poll(&mut source).await;
        assert_eq!(value(&out, "stream_connected"), &Value::Bool(true));
        assert_eq!(
            value(&out, "stream_resolution"),
            &Value::Text("640x360".into())
        );
        assert_eq!(out.error, None, "a streaming camera has no error");
    }

    #[test]
    fn the_camera_is_enabled_when_one_camera_is() {
        let source = StreamSource::new(watch::channel(StreamState::default()).1);
        let mut config = Config::default();
        assert!(!source.enabled(&config));
        config.camera = serde_json::from_value(serde_json::json!({
            "cameras": [{"name": "Porch", "host": "10.0.0.2"}]
        }))
        .unwrap();
        assert!(source.enabled(&config));
    }
}
