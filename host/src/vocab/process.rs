//! Programs started in a lab's namespaces: how they end, the signals a
//! guest may send them, and how the ledger names the cgroup that holds one.

use std::fmt;

use super::text::{printable, unprintable};

/// The fixed PATH on which `[exec] commands` given by name are looked up,
/// and on which a guest's bare program name is matched to them. Fixed, not
/// netwasm's own: what a policy grants must not depend on the environment
/// netwasm happens to run in.
pub const EXEC_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How a program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(u8),
    Signaled(u8),
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exited with {c}"),
            ExitStatus::Signaled(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// The signals a guest may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Int,
    Hup,
    Usr1,
    Usr2,
}

impl Signal {
    pub fn number(self) -> i32 {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Usr2 => libc::SIGUSR2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Int => "INT",
            Signal::Hup => "HUP",
            Signal::Usr1 => "USR1",
            Signal::Usr2 => "USR2",
        }
    }
}

/// Where netwasm puts its cgroups, under the cgroup v2 mount point.
pub const CGROUP_DIR: &str = "netwasm";

/// Checks a cgroup path as the ledger records it: relative to the cgroup
/// v2 mount point, `netwasm/LAB/NAME`, plain names only. A journal is
/// input: a path that could climb out of netwasm's own cgroups would let
/// whoever wrote it have `down` kill anything.
pub fn check_cgroup(path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.len() <= 128
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if parts.len() != 3 || parts[0] != CGROUP_DIR || !parts[1..].iter().all(|p| plain(p)) {
        return Err(format!(
            "cgroup {path:?}: not one of netwasm's (netwasm/LAB/NAME, plain names)"
        ));
    }
    Ok(())
}

/// The longest `command` the journal holds for a program (bytes).
pub const MAX_COMMAND: usize = 1024;

/// A program's argv as the journal keeps it, for reports: each argument
/// made printable (`text::printable`), joined by spaces, cut to
/// `MAX_COMMAND`. The guest chooses argv, and `show`, `down`, `status`
/// and rollback print this to the operator's terminal.
pub fn command_line(argv: &[String]) -> String {
    let s = argv
        .iter()
        .map(|a| printable(a))
        .collect::<Vec<_>>()
        .join(" ");
    if s.len() <= MAX_COMMAND {
        return s;
    }
    let cut = s.floor_char_boundary(MAX_COMMAND - 3);
    format!("{}...", &s[..cut])
}

/// Checks a journaled `command`: bounded, and nothing a terminal would act
/// on. A journal is input, and this is printed as it stands.
pub fn check_command(command: &str) -> Result<(), String> {
    if command.len() > MAX_COMMAND {
        return Err(format!(
            "command is {} bytes, longer than {MAX_COMMAND}",
            command.len()
        ));
    }
    if let Some(c) = command.chars().find(|&c| unprintable(c)) {
        return Err(format!(
            "command holds {:?}, which a terminal would act on",
            c
        ));
    }
    Ok(())
}

/// The name of a program's log of `stream` in its lab's `programs`
/// directory: its cgroup's last part (unique on the machine, see
/// `kernel::process::cgroup_name`) and `.out` or `.err`. None for a cgroup
/// path that is not one of netwasm's.
pub fn log_name(cgroup: &str, stream: LogStream) -> Option<String> {
    check_cgroup(cgroup).ok()?;
    let leaf = cgroup.rsplit('/').next()?;
    Some(format!("{leaf}.{}", stream.extension()))
}

/// A program's output stream, kept in a file of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn extension(self) -> &'static str {
        match self {
            LogStream::Stdout => "out",
            LogStream::Stderr => "err",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_netwasms_own_cgroups_pass() {
        assert!(check_cgroup("netwasm/lab/123-1").is_ok());
        for bad in [
            "netwasm/../x",
            "netwasm/lab/..",
            "system.slice/x/y",
            "netwasm/lab",
            "netwasm/lab/a/b",
            "/netwasm/lab/a",
            "netwasm/lab/a b",
        ] {
            assert!(check_cgroup(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_are_escaped_cut_and_checked() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = command_line(&argv(&["/bin/echo", "\x1b]8;;x\x07hi\r\n", "a\u{202e}b"]));
        assert_eq!(c, "/bin/echo \\u{1b}]8;;x\\u{7}hi\\r\\n a\\u{202e}b");
        assert!(check_command(&c).is_ok());
        let long = command_line(&argv(&["x", &"é".repeat(MAX_COMMAND)]));
        assert!(long.len() <= MAX_COMMAND && long.ends_with("..."));
        assert!(check_command(&long).is_ok());
        assert!(check_command("echo \x1b[2J").is_err());
        assert!(check_command("echo a\nb").is_err());
        assert!(check_command("echo \u{202e}").is_err());
        assert!(check_command(&"x".repeat(MAX_COMMAND + 1)).is_err());
    }

    #[test]
    fn logs_are_named_after_the_cgroup() {
        assert_eq!(
            log_name("netwasm/lab/12-3-1", LogStream::Stdout).as_deref(),
            Some("12-3-1.out")
        );
        assert_eq!(
            log_name("netwasm/lab/12-3-1", LogStream::Stderr).as_deref(),
            Some("12-3-1.err")
        );
        assert_eq!(log_name("netwasm/lab/..", LogStream::Stdout), None);
    }
}
