//! The readers, written once and generated twice by `maybe-async-cfg`.

///
/// `blocking` and `asynch` are generated from one source by `maybe-async-cfg`: the async code is
/// the original, the blocking one has every `async` and `.await` removed.
#[maybe_async_cfg::maybe(
    idents(driver(sync = "blocking", async = "asynch")),
    sync(
        feature = "blocking",
        "doc = \"The blocking reader: `ProcFs` over a blocking `TextFiles` (feature `blocking`).\""
    ),
    async(
        feature = "async",
        "doc = \"The async reader: `ProcFs` over an async `TextFiles` (feature `async`).\""
    )
)]
pub mod driver {
    use core::fmt::Write as _;

    use crate::parse::{
        CpuTimes, LoadAvg, MemInfo, parse_cpu_times, parse_loadavg, parse_meminfo,
        parse_millidegrees, parse_uptime,
    };
    use crate::reader::MAX_THERMAL_ZONES;
    use crate::{CpuTemperature, Error, FileError, FileErrorKind, ProcFile, THERMAL_PREFERENCE};

    /// Reads small text files such as `/proc/meminfo`.
    // The async variant's futures carry no `Send` bound, like embedded-hal-async's traits.
    #[allow(async_fn_in_trait)]
    pub trait TextFiles {
        /// The implementation's error.
        type Error: FileError;

        /// Reads up to `buf.len()` bytes from the start of the file at `path` and returns how many
        /// were read.
        ///
        /// A file longer than `buf` is cut short, never an error: callers that parse lines ignore a
        /// trailing partial line. (`/proc/stat` can run to tens of kilobytes on a large machine, but
        /// its first line, the only one needed for CPU use, is at the start.)
        async fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, Self::Error>;
    }

    impl<T: TextFiles + ?Sized> TextFiles for &mut T {
        type Error = T::Error;
        async fn read(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, Self::Error> {
            T::read(self, path, buf).await
        }
    }

    /// Reads system figures from `/proc` and `/sys` through a [`TextFiles`] implementation.
    #[derive(Debug)]
    pub struct ProcFs<F> {
        files: F,
    }

    /// Reads `path` into `buf` and returns its text, cut to whole UTF-8 characters if the buffer
    /// filled up mid-character.
    async fn read_text<'b, F: TextFiles>(
        files: &mut F,
        path: &str,
        file: ProcFile,
        buf: &'b mut [u8],
    ) -> Result<&'b str, Error<F::Error>> {
        let n = files
            .read(path, buf)
            .await
            .map_err(|e| Error::Read(file, e))?;
        match core::str::from_utf8(&buf[..n]) {
            Ok(text) => Ok(text),
            // A cut in the middle of a multi-byte character: keep the valid prefix.
            Err(e) if e.error_len().is_none() => {
                Ok(core::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default())
            }
            Err(_) => Err(Error::NotText(file)),
        }
    }

    impl<F: TextFiles> ProcFs<F> {
        /// A reader over `files`.
        pub fn new(files: F) -> Self {
            ProcFs { files }
        }

        /// Gives the file implementation back.
        pub fn release(self) -> F {
            self.files
        }

        /// Aggregate CPU times from `/proc/stat`.
        pub async fn cpu_times(&mut self) -> Result<CpuTimes, Error<F::Error>> {
            // The aggregate line comes first; 512 bytes hold it on any machine.
            let mut buf = [0u8; 512];
            let text = read_text(&mut self.files, "/proc/stat", ProcFile::Stat, &mut buf).await?;
            parse_cpu_times(text).map_err(|e| Error::Parse(ProcFile::Stat, e))
        }

        /// Memory figures from `/proc/meminfo`.
        pub async fn meminfo(&mut self) -> Result<MemInfo, Error<F::Error>> {
            // The fields used sit in the first ~25 lines (well under 2 KiB).
            let mut buf = [0u8; 2048];
            let text = read_text(
                &mut self.files,
                "/proc/meminfo",
                ProcFile::Meminfo,
                &mut buf,
            )
            .await?;
            parse_meminfo(text).map_err(|e| Error::Parse(ProcFile::Meminfo, e))
        }

        /// Load averages from `/proc/loadavg`.
        pub async fn loadavg(&mut self) -> Result<LoadAvg, Error<F::Error>> {
            let mut buf = [0u8; 128];
            let text = read_text(
                &mut self.files,
                "/proc/loadavg",
                ProcFile::Loadavg,
                &mut buf,
            )
            .await?;
            parse_loadavg(text).map_err(|e| Error::Parse(ProcFile::Loadavg, e))
        }

        /// Seconds since boot from `/proc/uptime`.
        pub async fn uptime(&mut self) -> Result<f64, Error<F::Error>> {
            let mut buf = [0u8; 128];
            let text =
                read_text(&mut self.files, "/proc/uptime", ProcFile::Uptime, &mut buf).await?;
            parse_uptime(text).map_err(|e| Error::Parse(ProcFile::Uptime, e))
        }

        /// The CPU's temperature: the thermal zone whose type ranks best in [`THERMAL_PREFERENCE`],
        /// else the first zone that reads. `Ok(None)` when the machine has no readable zone (a VM, a
        /// container without `/sys`): never a made-up number.
        pub async fn cpu_temperature(&mut self) -> Result<Option<CpuTemperature>, Error<F::Error>> {
            let mut best: Option<(usize, CpuTemperature)> = None;
            for zone in 0..MAX_THERMAL_ZONES {
                let mut path = heapless::String::<48>::new();
                // Cannot overflow: the longest path is 42 bytes.
                let _ = write!(path, "/sys/class/thermal/thermal_zone{zone}/type");
                let mut type_buf = [0u8; 32];
                let zone_type = match read_text(
                    &mut self.files,
                    &path,
                    ProcFile::ThermalZone(zone),
                    &mut type_buf,
                )
                .await
                {
                    Ok(text) => text.trim(),
                    Err(Error::Read(_, e)) if e.kind() == FileErrorKind::NotFound => break,
                    // A zone we cannot read is skipped, not fatal.
                    Err(_) => continue,
                };
                let rank = THERMAL_PREFERENCE
                    .iter()
                    .position(|t| *t == zone_type)
                    .unwrap_or(THERMAL_PREFERENCE.len());
                if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
                    continue;
                }
                let mut zone_type_owned = heapless::String::new();
                let _ = zone_type_owned.push_str(&zone_type[..zone_type.len().min(24)]);

                path.clear();
                let _ = write!(path, "/sys/class/thermal/thermal_zone{zone}/temp");
                let mut temp_buf = [0u8; 32];
                // Disabled zones answer EINVAL or ENODATA: skip them too. (The read is a statement
                // of its own: maybe-async-cfg parses with syn 1, which sees no `.await` inside a
                // `let ... else`.)
                let read = read_text(
                    &mut self.files,
                    &path,
                    ProcFile::ThermalZone(zone),
                    &mut temp_buf,
                )
                .await;
                let Ok(text) = read else {
                    continue;
                };
                let Ok(celsius) = parse_millidegrees(text) else {
                    continue;
                };
                best = Some((
                    rank,
                    CpuTemperature {
                        celsius,
                        zone,
                        zone_type: zone_type_owned,
                    },
                ));
            }
            Ok(best.map(|(_, t)| t))
        }
    }
}
