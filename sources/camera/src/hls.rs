//! The playlist the gateway serves, made from FFmpeg's own with every cut segment left out.
//!
//! FFmpeg (5.1) says nothing when a write to the HLS folder fails: on a full disk a segment is cut
//! short (or left empty) and listed all the same, with the duration it should have had. So FFmpeg
//! writes its playlist into a private subfolder ([`FFMPEG_DIR`], which the gateway cannot serve:
//! it serves single file names only), and the supervisor's [`Publisher`] writes `stream.m3u8`
//! itself, listing only segments it has read and found whole ([`check_segment`]):
//!
//! - every 188-byte MPEG-TS packet there, each starting with the sync byte `0x47` (FFmpeg writes
//!   whole packets; a failed write leaves a size that is not a multiple of 188, usually a
//!   multiple of the file system's 4 KiB pages, or a hole that shifts the packets), and
//! - at least half the duration FFmpeg lists, by the PTS of its PES packets (a cut that happens to
//!   fall on a packet boundary).
//!
//! Each served segment keeps its media sequence number from one playlist to the next (the
//! numbers count served segments, so leaving one out shifts nothing), and the first segment
//! served after a gap carries `#EXT-X-DISCONTINUITY` (with `#EXT-X-DISCONTINUITY-SEQUENCE`
//! counted as such segments leave the window).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::ffmpeg::PLAYLIST;

/// The subfolder of the HLS folder where FFmpeg writes its own playlist.
pub const FFMPEG_DIR: &str = ".ffmpeg";
/// An MPEG-TS packet's size.
pub const TS_PACKET: u64 = 188;
const SYNC_BYTE: u8 = 0x47;
/// PTS tick rate.
const PTS_HZ: f64 = 90_000.0;
/// Segments are read this much at a time (348 packets).
const READ_CHUNK: usize = 188 * 348;

/// A segment as FFmpeg's playlist lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its file name (FFmpeg lists names relative to the playlist).
    pub uri: String,
    /// The duration of its `#EXTINF`, in seconds.
    pub duration: f64,
    /// Its tag lines (`#EXTINF`, `#EXT-X-PROGRAM-DATE-TIME`, ...), in order.
    pub tags: Vec<String>,
}

/// A live media playlist as FFmpeg writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaPlaylist {
    /// The tags before the first segment, without `#EXTM3U`, the sequence numbers and
    /// `#EXT-X-ENDLIST`.
    pub header: Vec<String>,
    /// Its segments, oldest first.
    pub entries: Vec<Entry>,
}

/// Tags that describe the whole playlist rather than the segment after them.
fn is_playlist_tag(line: &str) -> bool {
    [
        "#EXT-X-VERSION",
        "#EXT-X-TARGETDURATION",
        "#EXT-X-MEDIA-SEQUENCE",
        "#EXT-X-DISCONTINUITY-SEQUENCE",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-PLAYLIST-TYPE",
        "#EXT-X-ALLOW-CACHE",
        "#EXT-X-START",
        "#EXT-X-ENDLIST",
    ]
    .iter()
    .any(|tag| line.starts_with(tag))
}

/// Playlist tags of FFmpeg's that the served playlist does not copy: it numbers its own segments,
/// and it is live until the supervisor removes it.
const RENUMBERED: [&str; 3] = [
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-ENDLIST",
];

/// Parses FFmpeg's playlist; `None` unless it is a whole one: `#EXTM3U` first, ending with a
/// line break, every segment's URI after its tags.
pub fn parse(text: &str) -> Option<MediaPlaylist> {
    if !text.ends_with('\n') {
        return None;
    }
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next()? != "#EXTM3U" {
        return None;
    }
    let mut header = Vec::new();
    let mut entries = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for line in lines {
        if line.starts_with('#') {
            if is_playlist_tag(line) {
                if !RENUMBERED.iter().any(|t| line.starts_with(t)) {
                    header.push(line.to_owned());
                }
            } else {
                tags.push(line.to_owned());
            }
            continue;
        }
        let duration = tags
            .iter()
            .find_map(|t| t.strip_prefix("#EXTINF:"))
            .and_then(|d| d.split(',').next())
            .and_then(|d| d.trim().parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0)?;
        entries.push(Entry {
            uri: line.to_owned(),
            duration,
            tags: std::mem::take(&mut tags),
        });
    }
    // Tags with no segment after them: the playlist was cut.
    tags.is_empty().then_some(MediaPlaylist { header, entries })
}

/// The first and last PTS seen, unwrapped around the first (PTS wrap at 2^33).
#[derive(Debug, Default)]
struct PtsSpan {
    first: Option<u64>,
    low: i64,
    high: i64,
}

impl PtsSpan {
    fn add(&mut self, pts: u64) {
        const WRAP: u64 = 1 << 33;
        let Some(first) = self.first else {
            self.first = Some(pts);
            return;
        };
        let ahead = pts.wrapping_sub(first) & (WRAP - 1);
        // Within half the range either side of the first: a difference of 33 bits fits.
        #[allow(clippy::cast_possible_wrap)]
        let delta = if ahead >= WRAP / 2 {
            ahead as i64 - WRAP as i64
        } else {
            ahead as i64
        };
        self.low = self.low.min(delta);
        self.high = self.high.max(delta);
    }

    fn seconds(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let ticks = (self.high - self.low) as f64;
        ticks / PTS_HZ
    }
}

/// The PTS of the PES packet that starts in this TS packet, if one does and has a PTS.
fn pes_pts(packet: &[u8]) -> Option<u64> {
    // payload_unit_start_indicator
    if packet.get(1)? & 0x40 == 0 {
        return None;
    }
    let control = (packet[3] >> 4) & 0x3;
    if control & 0x1 == 0 {
        return None;
    }
    let mut start = 4;
    if control & 0x2 != 0 {
        start += 1 + usize::from(*packet.get(4)?);
    }
    let pes = packet.get(start..)?;
    if pes.len() < 14 || pes[..3] != [0, 0, 1] || pes[6] & 0xC0 != 0x80 || pes[7] & 0x80 == 0 {
        return None;
    }
    let b = |i: usize| u64::from(pes[9 + i]);
    Some(((b(0) >> 1) & 0x07) << 30 | b(1) << 22 | (b(2) >> 1) << 15 | b(3) << 7 | b(4) >> 1)
}

/// Reads until `buf` is full or the file ends.
fn fill(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether the segment at `path`, listed as `listed` seconds long, is whole (see the [module
/// docs](self)); if not, why, e.g. `segment_00009.ts was cut short (4096 bytes, 0.07 s of the
/// 1.93 s listed)`. Reads the file once, a chunk at a time; blocking.
pub fn check_segment(path: &Path, listed: f64) -> Result<(), String> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut file = std::fs::File::open(path).map_err(|e| format!("{name} cannot be read: {e}"))?;
    let mut buf = vec![0u8; READ_CHUNK];
    let mut span = PtsSpan::default();
    let mut bytes = 0u64;
    let mut misplaced = None;
    loop {
        let n = fill(&mut file, &mut buf).map_err(|e| format!("{name} cannot be read: {e}"))?;
        for packet in buf[..n].chunks(188) {
            if packet.len() == 188 && misplaced.is_none() {
                if packet[0] == SYNC_BYTE {
                    if let Some(pts) = pes_pts(packet) {
                        span.add(pts);
                    }
                } else {
                    misplaced = Some(bytes);
                }
            }
            bytes += packet.len() as u64;
        }
        if n < buf.len() {
            break;
        }
    }
    let plays = span.seconds();
    if bytes == 0 {
        return Err(format!("{name} is empty (0 of the {listed:.2} s listed)"));
    }
    if !bytes.is_multiple_of(TS_PACKET) {
        return Err(format!(
            "{name} was cut short ({bytes} bytes, {plays:.2} s of the {listed:.2} s listed)"
        ));
    }
    if let Some(at) = misplaced {
        return Err(format!(
            "{name} is damaged (no MPEG-TS sync byte at byte {at}; {plays:.2} s of the \
             {listed:.2} s listed)"
        ));
    }
    if listed >= 0.5 && plays < listed / 2.0 {
        return Err(format!(
            "{name} was cut short ({bytes} bytes, {plays:.2} s of the {listed:.2} s listed)"
        ));
    }
    Ok(())
}

/// What became of a segment of FFmpeg's playlist.
#[derive(Clone, Debug)]
enum Judged {
    /// Whole, served under this media sequence number, after a gap or not.
    Served { sequence: u64, discontinuity: bool },
    /// Cut short: why.
    Left(String),
}

/// What [`Publisher::update`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// FFmpeg has not written a playlist with a segment yet.
    Waiting,
    /// The newest segment is whole and served, and no new one was cut.
    Serving,
    /// A segment (or FFmpeg's playlist) was cut short since the last look, or the newest one is:
    /// why, naming the file. The folder is full.
    Full(String),
}

/// Writes `stream.m3u8` in the HLS folder from FFmpeg's playlist in [`FFMPEG_DIR`], leaving out
/// every segment [`check_segment`] refuses. One per FFmpeg process.
#[derive(Debug)]
pub struct Publisher {
    dir: PathBuf,
    judged: HashMap<String, Judged>,
    next_sequence: u64,
    discontinuity_sequence: u64,
    /// A segment was left out since the last one served.
    gap: bool,
    /// What `stream.m3u8` holds, if this publisher wrote it.
    written: Option<String>,
}

impl Publisher {
    /// A publisher for the HLS folder `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Publisher {
            dir,
            judged: HashMap::new(),
            next_sequence: 0,
            discontinuity_sequence: 0,
            gap: false,
            written: None,
        }
    }

    /// Where FFmpeg writes its playlist.
    pub fn source(dir: &Path) -> PathBuf {
        dir.join(FFMPEG_DIR).join(PLAYLIST)
    }

    /// Reads FFmpeg's playlist, judges the segments it lists for the first time, and writes
    /// `stream.m3u8` with the whole ones (or removes it when there are none).
    pub async fn update(&mut self) -> Outcome {
        let text = match tokio::fs::read(Self::source(&self.dir)).await {
            Ok(text) => text,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::debug!("cannot read FFmpeg's playlist: {e}");
                }
                return Outcome::Waiting;
            }
        };
        let Some(playlist) = std::str::from_utf8(&text).ok().and_then(parse) else {
            self.withdraw().await;
            return Outcome::Full(format!(
                "FFmpeg's playlist was cut short ({} bytes)",
                text.len()
            ));
        };
        let mut cut_now = None;
        for entry in &playlist.entries {
            if self.judged.contains_key(&entry.uri) {
                continue;
            }
            let judged = match self.judge(entry).await {
                // Deleted by FFmpeg before it could be read (a supervisor held up for longer
                // than the playlist's window): not served, not cut either.
                None => {
                    self.gap = true;
                    continue;
                }
                Some(Ok(())) => {
                    let judged = Judged::Served {
                        sequence: self.next_sequence,
                        discontinuity: self.gap && self.next_sequence > 0,
                    };
                    self.next_sequence += 1;
                    self.gap = false;
                    judged
                }
                Some(Err(why)) => {
                    self.gap = true;
                    cut_now = Some(why.clone());
                    Judged::Left(why)
                }
            };
            self.judged.insert(entry.uri.clone(), judged);
        }
        // Segments that left FFmpeg's window leave ours; a discontinuity leaving counts.
        let listed: std::collections::HashSet<&str> =
            playlist.entries.iter().map(|e| e.uri.as_str()).collect();
        let mut left_window = 0;
        self.judged.retain(|uri, judged| {
            let keep = listed.contains(uri.as_str());
            if !keep
                && matches!(
                    judged,
                    Judged::Served {
                        discontinuity: true,
                        ..
                    }
                )
            {
                left_window += 1;
            }
            keep
        });
        self.discontinuity_sequence += left_window;

        if let Err(e) = self.write(&playlist).await {
            self.withdraw().await;
            return Outcome::Full(format!("{PLAYLIST} cannot be written: {e}"));
        }
        let newest = playlist
            .entries
            .last()
            .and_then(|e| self.judged.get(&e.uri));
        match (cut_now, newest) {
            (Some(why), _) => Outcome::Full(why),
            (None, Some(Judged::Left(why))) => Outcome::Full(why.clone()),
            (None, Some(Judged::Served { .. })) => Outcome::Serving,
            (None, None) => Outcome::Waiting,
        }
    }

    /// Checks one segment, off the async threads; `None` if it is gone.
    async fn judge(&self, entry: &Entry) -> Option<Result<(), String>> {
        let plain_name = !entry.uri.is_empty()
            && !entry.uri.contains(['/', '\\'])
            && entry.uri != "."
            && entry.uri != "..";
        if !plain_name {
            return Some(Err(format!(
                "{:?} is not a file of the HLS folder",
                entry.uri
            )));
        }
        let path = self.dir.join(&entry.uri);
        let listed = entry.duration;
        let checked = path.clone();
        let verdict = tokio::task::spawn_blocking(move || check_segment(&checked, listed))
            .await
            .unwrap_or_else(|e| Err(format!("the segment check failed: {e}")));
        if verdict.is_err() && !tokio::fs::try_exists(&path).await.unwrap_or(true) {
            return None;
        }
        Some(verdict)
    }

    /// The served playlist for `playlist`: its header, the media sequence of the first served
    /// segment, and the served segments.
    fn render(&self, playlist: &MediaPlaylist) -> Option<String> {
        let served: Vec<(&Entry, u64, bool)> = playlist
            .entries
            .iter()
            .filter_map(|e| match self.judged.get(&e.uri)? {
                Judged::Served {
                    sequence,
                    discontinuity,
                } => Some((e, *sequence, *discontinuity)),
                Judged::Left(_) => None,
            })
            .collect();
        let first = served.first()?.1;
        let mut out = String::from("#EXTM3U\n");
        for line in &playlist.header {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&format!("#EXT-X-MEDIA-SEQUENCE:{first}\n"));
        if self.discontinuity_sequence > 0 {
            out.push_str(&format!(
                "#EXT-X-DISCONTINUITY-SEQUENCE:{}\n",
                self.discontinuity_sequence
            ));
        }
        for (entry, _, discontinuity) in served {
            if discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            for tag in entry.tags.iter().filter(|t| *t != "#EXT-X-DISCONTINUITY") {
                out.push_str(tag);
                out.push('\n');
            }
            out.push_str(&entry.uri);
            out.push('\n');
        }
        Some(out)
    }

    /// Writes `stream.m3u8` if it changed (a temporary file renamed over it, so a reader never
    /// sees half a playlist), or removes it when nothing is served.
    async fn write(&mut self, playlist: &MediaPlaylist) -> std::io::Result<()> {
        let Some(text) = self.render(playlist) else {
            self.withdraw().await;
            return Ok(());
        };
        if self.written.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        let target = self.dir.join(PLAYLIST);
        let temp = self.dir.join(format!("{PLAYLIST}.tmp"));
        let result = async {
            tokio::fs::write(&temp, text.as_bytes()).await?;
            tokio::fs::rename(&temp, &target).await
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
        self.written = Some(text);
        Ok(())
    }

    /// Removes `stream.m3u8`: nothing is served rather than something cut or gone.
    async fn withdraw(&mut self) {
        self.written = None;
        match tokio::fs::remove_file(self.dir.join(PLAYLIST)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {PLAYLIST}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
