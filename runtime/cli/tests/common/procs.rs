//! The processes of this machine as `/proc` shows them: who is whose child, and who still lives.

/// A process: its id, its parent's, its state letter (`R`, `S`, `T` stopped, `Z` zombie, …) and
/// its command line (arguments joined by spaces).
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub state: char,
    pub cmdline: String,
}

/// `/proc/{pid}/stat`'s state and parent: `pid (comm) state ppid …`, where comm may hold spaces
/// and parentheses, so the fields are read after the last `)`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((state, rest.next()?.parse().ok()?))
}

/// Every process now.
pub fn processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let (state, ppid) = stat(pid)?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            Some(Process {
                pid,
                ppid,
                state,
                cmdline: String::from_utf8_lossy(&cmdline).replace('\0', " "),
            })
        })
        .collect()
}

/// The living (not zombie) children of `parent`.
pub fn children(parent: u32) -> Vec<Process> {
    processes()
        .into_iter()
        .filter(|p| p.ppid == parent && p.state != 'Z')
        .collect()
}

/// `root` and every process whose parent chain includes it.
pub fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        i += 1;
    }
    found
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z')
}

/// Sends `signal` to `pid` (a process this test started: a child, or its redis-server).
pub fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
}
