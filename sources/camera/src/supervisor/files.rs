//! The HLS folder's clean-up: which files are the stream's, and deleting only those; run on
//! stop and before each spawn, and usable without a supervisor.

use std::path::Path;

use crate::ffmpeg;
use crate::hls::FFMPEG_DIR;

/// Whether `name` is a file the stream writes: the playlist, a segment, or a leftover `.tmp` of
/// either.
pub fn is_stream_file(name: &str) -> bool {
    let ours = name.starts_with("segment_") || name.starts_with(ffmpeg::PLAYLIST);
    let kind = name.ends_with(".ts") || name.ends_with(".m3u8") || name.ends_with(".tmp");
    ours && kind
}

/// Deletes the stream's files (see [`is_stream_file`]) from `dir` and from FFmpeg's playlist
/// folder in it (`.ffmpeg`, removed once empty), leaving anything else; returns how many files
/// were deleted. A missing folder has nothing to delete.
pub async fn clean_hls_dir(dir: &Path) -> std::io::Result<usize> {
    let private = dir.join(FFMPEG_DIR);
    let deleted = remove_stream_files(dir).await? + remove_stream_files(&private).await?;
    match tokio::fs::remove_dir(&private).await {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::DirectoryNotEmpty
                    | std::io::ErrorKind::NotADirectory
            ) => {}
        Err(e) => return Err(e),
    }
    Ok(deleted)
}

/// Deletes the stream's files in `dir` (not in its subfolders).
async fn remove_stream_files(dir: &Path) -> std::io::Result<usize> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut deleted = 0;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_stream_file(name) || entry.file_type().await.is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match tokio::fs::remove_file(entry.path()).await {
            Ok(()) => deleted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}
