//! The process table, read from Linux's `/proc`: who is whose descendant, including processes
//! that left their parent's group or session. The host sweeps a backend's descendants with it,
//! and the claude-code backend a turn's; one reader keeps the `stat` parsing in one place.

use std::collections::{HashMap, HashSet};
use std::io;

/// One process, as `/proc/<pid>/stat` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// The process id.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its session.
    pub sid: i32,
    /// The state letter (`R`, `S`, `Z` for a zombie…).
    pub state: char,
    /// Its start time in clock ticks after boot; with the pid, it names the process uniquely.
    pub start_time: u64,
    /// The executable's name (`comm`, at most 15 bytes).
    pub name: String,
}

impl ProcInfo {
    /// Whether the process has exited and waits to be reaped.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }
}

/// Reads one process; `None` when it does not exist (any more).
pub fn read_proc(pid: i32) -> Option<ProcInfo> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&String::from_utf8_lossy(&stat))
}

fn parse_stat(stat: &str) -> Option<ProcInfo> {
    // The name is in parentheses and may itself contain spaces and parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let name = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    Some(ProcInfo {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        sid: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
        name,
    })
}

/// Every process visible in `/proc`.
pub fn process_table() -> io::Result<Vec<ProcInfo>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A process may exit between the listing and the read.
        if let Some(info) = read_proc(pid) {
            out.push(info);
        }
    }
    Ok(out)
}

/// The descendants of `root` (not `root` itself) by parent pid, as they are now.
pub fn descendants(root: u32) -> io::Result<Vec<ProcInfo>> {
    let table = process_table()?;
    let root = i32::try_from(root).map_err(|_| io::Error::other("pid out of range"))?;
    Ok(closure(&table, &HashSet::from([root]), |_| false)
        .into_iter()
        .filter(|p| p.pid != root)
        .collect())
}

/// The pids of the direct children of `pid` now (every thread's `children` list, which
/// Linux keeps without reading the whole table); empty when `pid` is gone.
pub fn children(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default();
    tasks
        .iter()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The processes of `table` reachable from `seeds` (or matching `extra`) through parent links.
pub fn closure(
    table: &[ProcInfo],
    seeds: &HashSet<i32>,
    extra: impl Fn(&ProcInfo) -> bool,
) -> Vec<ProcInfo> {
    let mut children: HashMap<i32, Vec<&ProcInfo>> = HashMap::new();
    for p in table {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut members: HashSet<i32> = HashSet::new();
    let mut queue: Vec<i32> = seeds.iter().copied().collect();
    queue.extend(table.iter().filter(|p| extra(p)).map(|p| p.pid));
    let mut out = Vec::new();
    while let Some(pid) = queue.pop() {
        if !members.insert(pid) {
            continue;
        }
        if let Some(p) = table.iter().find(|p| p.pid == pid) {
            out.push(p.clone());
        }
        for child in children.get(&pid).into_iter().flatten() {
            queue.push(child.pid);
        }
    }
    out
}

/// Whether `p` still exists as the same process (same pid and start time).
pub fn same_process(p: &ProcInfo) -> bool {
    read_proc(p.pid).is_some_and(|now| now.start_time == p.start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let p = parse_stat(stat).unwrap();
        assert_eq!((p.pid, p.ppid, p.pgid, p.sid), (4242, 1, 4242, 4242));
        assert_eq!(p.name, "a (b) c");
        assert_eq!(p.state, 'S');
        assert_eq!(p.start_time, 987654);
    }

    #[test]
    fn closure_follows_parents_and_extra_members() {
        let p = |pid, ppid, pgid| ProcInfo {
            pid,
            ppid,
            pgid,
            sid: 0,
            state: 'S',
            start_time: 0,
            name: String::new(),
        };
        let table = [
            p(10, 1, 10),
            p(11, 10, 10),
            p(12, 11, 12),
            p(20, 1, 10),
            p(30, 1, 30),
        ];
        let mut got: Vec<i32> = closure(&table, &HashSet::from([10]), |q| q.pgid == 10)
            .iter()
            .map(|q| q.pid)
            .collect();
        got.sort();
        assert_eq!(got, [10, 11, 12, 20]);
    }

    #[test]
    fn finds_this_process_and_its_children() {
        let me = read_proc(std::process::id() as i32).unwrap();
        assert!(!me.is_zombie());
        assert!(process_table().unwrap().iter().any(|p| p.pid == me.pid));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(std::process::id()).unwrap();
        assert!(
            found.iter().any(|p| p.pid == child.id() as i32),
            "{found:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
