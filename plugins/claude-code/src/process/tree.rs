//! Reading the process table from `/proc`: who is a descendant of whom.

use std::collections::HashSet;

/// One process, as `/proc/<pid>/stat` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// The process id.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// The state letter (`R`, `S`, `Z` for a zombie…).
    pub state: char,
    /// The executable's name (`comm`).
    pub name: String,
}

impl ProcInfo {
    /// Whether the process has exited and waits to be reaped.
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Reads one process; `None` when it does not exist (any more).
pub fn read_proc(pid: i32) -> Option<ProcInfo> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&String::from_utf8_lossy(&stat))
}

fn parse_stat(stat: &str) -> Option<ProcInfo> {
    // The name sits in parentheses and may itself contain spaces and parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    Some(ProcInfo {
        pid: stat[..open].trim().parse().ok()?,
        name: stat.get(open + 1..close)?.to_owned(),
        state: fields.next()?.chars().next()?,
        ppid: fields.next()?.parse().ok()?,
        pgid: fields.next()?.parse().ok()?,
    })
}

/// Every process visible in `/proc` (one that exits during the listing is left out).
pub fn process_table() -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(read_proc)
        .collect()
}

/// The live descendants of `root` (not `root` itself), found by following parent links.
pub fn descendants(root: i32) -> Vec<ProcInfo> {
    let table = process_table();
    let mut family: HashSet<i32> = HashSet::from([root]);
    let mut found = Vec::new();
    // Parents may be listed after their children, so repeat until nothing new turns up.
    loop {
        let before = found.len();
        for p in &table {
            if family.contains(&p.ppid) && !family.contains(&p.pid) {
                family.insert(p.pid);
                found.push(p.clone());
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces_and_parentheses() {
        let p = parse_stat("42 (a (b) c) S 7 42 42 0 -1 4194560 0 0").unwrap();
        assert_eq!((p.pid, p.ppid, p.pgid, p.state), (42, 7, 42, 'S'));
        assert_eq!(p.name, "a (b) c");
        assert!(!p.is_zombie());
    }

    #[test]
    fn finds_itself_and_its_children() {
        let me = std::process::id() as i32;
        assert_eq!(read_proc(me).map(|p| p.pid), Some(me));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(me);
        assert!(
            found.iter().any(|p| p.pid == child.id() as i32),
            "{found:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
