use super::*;

/// One 188-byte TS packet of `pid`; with `pts`, the start of a video PES with that PTS.
fn ts_packet(pid: u16, pts: Option<u64>) -> Vec<u8> {
    let mut p = vec![0xFFu8; 188];
    p[0] = SYNC_BYTE;
    let [high, low] = pid.to_be_bytes();
    p[1] = high & 0x1F;
    p[2] = low;
    p[3] = 0x10; // payload only
    if let Some(pts) = pts {
        p[1] |= 0x40;
        p[4..13].copy_from_slice(&[0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5]);
        let byte = |v: u64| u8::try_from(v & 0xFF).unwrap();
        p[13] = 0x21 | byte(((pts >> 30) & 0x07) << 1);
        p[14] = byte(pts >> 22);
        p[15] = byte(((pts >> 15) & 0x7F) << 1) | 1;
        p[16] = byte(pts >> 7);
        p[17] = byte((pts & 0x7F) << 1) | 1;
    }
    p
}

/// A segment of `frames` frames at 15 fps from PTS `start`: a PAT, then per frame a PES start
/// and three more packets.
fn segment(frames: u64, start: u64) -> Vec<u8> {
    let mut out = ts_packet(0, None);
    for frame in 0..frames {
        let pts = (start + frame * 6000) & ((1 << 33) - 1);
        out.extend(ts_packet(0x100, Some(pts)));
        for _ in 0..3 {
            out.extend(ts_packet(0x100, None));
        }
    }
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sense-hls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(FFMPEG_DIR)).unwrap();
    dir
}

#[test]
fn the_pts_of_a_pes_start() {
    assert_eq!(
        pes_pts(&ts_packet(0x100, Some(123_456_789))),
        Some(123_456_789)
    );
    assert_eq!(
        pes_pts(&ts_packet(0x100, Some((1 << 33) - 1))),
        Some((1 << 33) - 1)
    );
    assert_eq!(pes_pts(&ts_packet(0x100, None)), None);
    // A PAT starts a section, not a PES.
    let mut pat = ts_packet(0, None);
    pat[1] |= 0x40;
    pat[4..8].copy_from_slice(&[0, 0, 0xB0, 0x0D]);
    assert_eq!(pes_pts(&pat), None);
}

#[test]
fn whole_and_cut_segments() {
    let dir = scratch("check");
    let path = dir.join("segment_00001.ts");
    // 15 frames: 0.93 s of PTS, listed as 1 s.
    let whole = segment(15, 1_000);
    std::fs::write(&path, &whole).unwrap();
    assert_eq!(check_segment(&path, 1.0), Ok(()));
    // Across the PTS wrap.
    std::fs::write(&path, segment(15, (1 << 33) - 12_000)).unwrap();
    assert_eq!(check_segment(&path, 1.0), Ok(()));

    // Cut at a 4 KiB page, as a full tmpfs leaves it.
    std::fs::write(&path, &whole[..4096]).unwrap();
    assert_eq!(
        check_segment(&path, 1.93),
        Err("segment_00001.ts was cut short (4096 bytes, 0.27 s of the 1.93 s listed)".into())
    );
    // Cut on a packet boundary: whole packets, but not the time listed.
    std::fs::write(&path, &whole[..188 * 17]).unwrap();
    let err = check_segment(&path, 1.0).unwrap_err();
    assert!(
        err.starts_with("segment_00001.ts was cut short (3196 bytes, 0.20 s"),
        "{err}"
    );
    // A write that failed in the middle shifts the packets after it.
    let mut holed = whole[..188 * 8].to_vec();
    holed.extend_from_slice(&whole[188 * 8 + 100..]);
    holed.extend_from_slice(&[0; 100]);
    let err = {
        std::fs::write(&path, &holed).unwrap();
        check_segment(&path, 1.0).unwrap_err()
    };
    assert!(
        err.contains("is damaged (no MPEG-TS sync byte at byte 1504"),
        "{err}"
    );
    std::fs::write(&path, b"").unwrap();
    assert_eq!(
        check_segment(&path, 2.0),
        Err("segment_00001.ts is empty (0 of the 2.00 s listed)".into())
    );
    let err = check_segment(&dir.join("missing.ts"), 1.0).unwrap_err();
    assert!(err.starts_with("missing.ts cannot be read: "), "{err}");
    // A short last segment (FFmpeg's at its end) is whole.
    std::fs::write(&path, segment(1, 0)).unwrap();
    assert_eq!(check_segment(&path, 0.07), Ok(()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A playlist as FFmpeg 5.1 writes it for `-hls_flags program_date_time+independent_segments`.
fn ffmpeg_playlist(first: u64, entries: &[(u64, &str)]) -> String {
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    for (n, duration) in entries {
        out.push_str(&format!(
            "#EXTINF:{duration},\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T02:58:0{n}.065+0000\n\
             segment_{n:05}.ts\n"
        ));
    }
    out
}

#[test]
fn ffmpeg_playlists_parse_and_cut_ones_do_not() {
    let text = ffmpeg_playlist(7, &[(7, "2.000000"), (8, "1.933333")]);
    let playlist = parse(&text).unwrap();
    assert_eq!(
        playlist.header,
        [
            "#EXT-X-VERSION:6",
            "#EXT-X-TARGETDURATION:1",
            "#EXT-X-INDEPENDENT-SEGMENTS"
        ]
    );
    assert_eq!(playlist.entries.len(), 2);
    assert_eq!(playlist.entries[1].uri, "segment_00008.ts");
    assert!((playlist.entries[1].duration - 1.933_333).abs() < 1e-9);
    assert_eq!(
        playlist.entries[0].tags,
        [
            "#EXTINF:2.000000,",
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-06T02:58:07.065+0000"
        ]
    );
    // With FFmpeg's end.
    assert_eq!(
        parse(&format!("{text}#EXT-X-ENDLIST\n"))
            .unwrap()
            .entries
            .len(),
        2
    );
    // Empty, cut mid-line, cut after a segment's tags, not a playlist.
    assert_eq!(parse(""), None);
    assert_eq!(parse(&text[..text.len() - 4]), None);
    let cut_after_tags = text.rsplit_once("segment_00008.ts\n").unwrap().0;
    assert_eq!(parse(cut_after_tags), None);
    assert_eq!(parse("segment_00001.ts\n"), None);
}

async fn served(dir: &Path) -> Option<String> {
    tokio::fs::read_to_string(dir.join(PLAYLIST)).await.ok()
}

fn uris(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[tokio::test]
async fn cut_segments_are_left_out_and_the_numbers_hold() {
    let dir = scratch("publish");
    let mut publisher = Publisher::new(dir.clone());
    assert_eq!(publisher.update().await, Outcome::Waiting);

    let write_segment = |n: u64, bytes: &[u8]| {
        std::fs::write(dir.join(format!("segment_{n:05}.ts")), bytes).unwrap();
    };
    let ffmpeg_writes = |text: String| {
        std::fs::write(Publisher::source(&dir), text).unwrap();
    };
    let whole = segment(15, 0);
    write_segment(0, &whole);
    write_segment(1, &whole);
    ffmpeg_writes(ffmpeg_playlist(0, &[(0, "1.0"), (1, "1.0")]));
    assert_eq!(publisher.update().await, Outcome::Serving);
    let text = served(&dir).await.unwrap();
    assert!(text.starts_with(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-INDEPENDENT-SEGMENTS\n\
         #EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\n#EXT-X-PROGRAM-DATE-TIME:"
    ));
    assert_eq!(uris(&text), ["segment_00000.ts", "segment_00001.ts"]);

    // The disk fills: segment 2 is cut to a page and still listed by FFmpeg.
    write_segment(2, &whole[..4096]);
    ffmpeg_writes(ffmpeg_playlist(0, &[(0, "1.0"), (1, "1.0"), (2, "1.0")]));
    assert_eq!(
        publisher.update().await,
        Outcome::Full(
            "segment_00002.ts was cut short (4096 bytes, 0.27 s of the 1.00 s listed)".into()
        )
    );
    assert_eq!(
        uris(&served(&dir).await.unwrap()),
        ["segment_00000.ts", "segment_00001.ts"]
    );
    // FFmpeg's playlist itself cut (empty): nothing is served.
    ffmpeg_writes(String::new());
    assert_eq!(
        publisher.update().await,
        Outcome::Full("FFmpeg's playlist was cut short (0 bytes)".into())
    );
    assert_eq!(served(&dir).await, None);

    // Room again: 3 is whole, 0 left FFmpeg's window. 3 follows a gap and keeps number 2.
    write_segment(3, &whole);
    ffmpeg_writes(ffmpeg_playlist(1, &[(1, "1.0"), (2, "1.0"), (3, "1.0")]));
    assert_eq!(publisher.update().await, Outcome::Serving);
    let text = served(&dir).await.unwrap();
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:1\n"), "{text}");
    assert!(!text.contains("DISCONTINUITY-SEQUENCE"), "{text}");
    assert!(
        text.ends_with("segment_00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.0,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T02:58:03.065+0000\nsegment_00003.ts\n"),
        "{text}"
    );
    // Nothing new: the same outcome, the same file.
    assert_eq!(publisher.update().await, Outcome::Serving);
    assert_eq!(served(&dir).await.unwrap(), text);

    // Both new ones at once, the first cut: it is reported, the second served.
    write_segment(4, b"");
    write_segment(5, &whole);
    ffmpeg_writes(ffmpeg_playlist(3, &[(3, "1.0"), (4, "1.0"), (5, "1.0")]));
    assert_eq!(
        publisher.update().await,
        Outcome::Full("segment_00004.ts is empty (0 of the 1.00 s listed)".into())
    );
    let text = served(&dir).await.unwrap();
    // 1 left with no discontinuity; 3 carries one (number 2), 5 another (number 3).
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:2\n"), "{text}");
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 2, "{text}");
    assert_eq!(uris(&text), ["segment_00003.ts", "segment_00005.ts"]);
    assert_eq!(publisher.update().await, Outcome::Serving);

    // 3 leaves the window with its discontinuity: counted.
    write_segment(6, &whole);
    ffmpeg_writes(ffmpeg_playlist(4, &[(4, "1.0"), (5, "1.0"), (6, "1.0")]));
    assert_eq!(publisher.update().await, Outcome::Serving);
    let text = served(&dir).await.unwrap();
    assert!(
        text.contains("#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"),
        "{text}"
    );
    assert_eq!(uris(&text), ["segment_00005.ts", "segment_00006.ts"]);
    assert!(!dir.join(format!("{PLAYLIST}.tmp")).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_segment_gone_before_it_is_read_is_neither_served_nor_cut() {
    let dir = scratch("gone");
    let whole = segment(15, 0);
    std::fs::write(dir.join("segment_00001.ts"), &whole).unwrap();
    std::fs::write(
        Publisher::source(&dir),
        ffmpeg_playlist(0, &[(0, "1.0"), (1, "1.0")]),
    )
    .unwrap();
    let mut publisher = Publisher::new(dir.clone());
    assert_eq!(publisher.update().await, Outcome::Serving);
    assert_eq!(uris(&served(&dir).await.unwrap()), ["segment_00001.ts"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn only_plain_file_names_are_served() {
    let dir = scratch("names");
    std::fs::write(
        Publisher::source(&dir),
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n../etc/passwd\n",
    )
    .unwrap();
    let mut publisher = Publisher::new(dir.clone());
    assert_eq!(
        publisher.update().await,
        Outcome::Full("\"../etc/passwd\" is not a file of the HLS folder".into())
    );
    assert_eq!(served(&dir).await, None);
    std::fs::remove_dir_all(&dir).unwrap();
}
