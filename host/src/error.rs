//! Errors of lab operations, as the guest sees them.
//!
//! An [`OpError`] is always the guest's business: bad input, a policy
//! refusal, or the kernel saying no. It becomes a WIT `error` value. Bugs and
//! broken invariants of the host are not `OpError`s; they are traps
//! (`anyhow::Error`) and end the run, marked as the host's
//! ([`HostFailure`]) on their way out.

use std::fmt;
use std::io;

/// Which case of the WIT `error` variant an [`OpError`] becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidArgument,
    Busy,
    PermissionDenied,
    Denied,
    LimitReached,
    Kernel,
}

/// A failed lab operation: what kind of failure, one line naming the
/// operation and object, and the errno when the kernel was involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub kind: ErrorKind,
    pub message: String,
    /// The kernel's errno (positive), when the kernel refused.
    pub errno: Option<i32>,
    /// The operation, for kernel errors (`create macvlan "mv1" in "ns1"`).
    pub operation: String,
}

pub type OpResult<T> = Result<T, OpError>;

/// The outcome of a host call that failed: either the guest's business (an
/// [`OpError`], returned to it as a value) or a trap that ends the run (a
/// host failure, or a hard limit reached).
#[derive(Debug)]
pub enum Failure {
    Op(OpError),
    Trap(anyhow::Error),
}

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        Failure::Op(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Trap(e)
    }
}

pub type HostResult<T> = Result<T, Failure>;

/// A failure of netwasm itself while a guest runs: a journal that cannot
/// be written, a kernel or thread failure the host cannot pin on the guest,
/// a broken invariant. It is marked with this type where it leaves the
/// host for the engine ([`Failure::Trap`] becomes one, unless it is a
/// limit or a [`GuestFault`]), because everything else that ends a guest's execution — a bad
/// pointer, a string that is not UTF-8, a handle it does not hold, a WASI
/// call it had no right to make — is the guest's own doing: only this is
/// an internal error (exit 9) rather than the guest's trap (exit 4).
#[derive(Debug)]
pub struct HostFailure(pub anyhow::Error);

impl fmt::Display for HostFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain, on one line.
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for HostFailure {}

/// The guest's own doing, found by the host rather than the engine (it
/// called on after it was refused for good, ...): it ends the run as the
/// guest's trap (exit 4), where an unmarked [`Failure::Trap`] would be
/// taken for netwasm's failure. The message is one line about "the guest".
#[derive(Debug)]
pub struct GuestFault(pub String);

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GuestFault {}

impl OpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            errno: None,
            operation: String::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Denied, message)
    }

    pub fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::LimitReached, message)
    }

    /// A kernel refusal of `operation` with `errno` (positive).
    pub fn errno(operation: impl Into<String>, errno: i32) -> Self {
        let operation = operation.into();
        let kind = match errno {
            libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL => ErrorKind::NotFound,
            libc::EEXIST | libc::ENOTEMPTY => ErrorKind::AlreadyExists,
            libc::EBUSY => ErrorKind::Busy,
            libc::EPERM | libc::EACCES => ErrorKind::PermissionDenied,
            _ => ErrorKind::Kernel,
        };
        let text = io::Error::from_raw_os_error(errno);
        let text = text.to_string();
        // io::Error renders "Text (os error N)"; keep the text, name the errno.
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        Self {
            kind,
            message: format!("{operation}: {text} ({})", errno_name(errno)),
            errno: Some(errno),
            operation,
        }
    }

    /// A kernel refusal given as an `io::Error`.
    pub fn io(operation: impl Into<String>, err: &io::Error) -> Self {
        match errno_of(err) {
            Some(errno) => {
                let mut e = Self::errno(operation, errno);
                if let Some(why) = explanation_of(err) {
                    // As `ip` prints it: the errno's text, then the kernel's words.
                    e.message = format!("{} ({why})", e.message);
                }
                e
            }
            None => {
                let operation = operation.into();
                Self {
                    kind: ErrorKind::Kernel,
                    message: format!("{operation}: {err}"),
                    errno: None,
                    operation,
                }
            }
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OpError {}

/// The symbolic name of an errno, for messages people search for.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ENOBUFS => "ENOBUFS",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EMSGSIZE => "EMSGSIZE",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}

/// A refusal the kernel explained: its errno and the message of its
/// extended ACK (`NLMSGERR_ATTR_MSG`), like "Nexthop has invalid gateway".
/// Backends return it inside an `io::Error` ([`refused`]); read the errno
/// back with [`errno_of`], never `raw_os_error`, which does not see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub errno: i32,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = io::Error::from_raw_os_error(self.errno).to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        write!(f, "{text}: {}", self.message)
    }
}

impl std::error::Error for Refusal {}

/// The kernel's refusal `errno`, with its extended ACK `message` when it
/// gave one.
pub fn refused(errno: i32, message: Option<&str>) -> io::Error {
    match message.map(str::trim).filter(|m| !m.is_empty()) {
        None => io::Error::from_raw_os_error(errno),
        Some(m) => io::Error::new(
            io::Error::from_raw_os_error(errno).kind(),
            Refusal {
                errno,
                message: m.to_string(),
            },
        ),
    }
}

/// The errno of a kernel error, whether or not the kernel explained it.
pub fn errno_of(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<Refusal>())
            .map(|r| r.errno)
    })
}

/// The kernel's explanation of a refusal, when it gave one.
pub fn explanation_of(e: &io::Error) -> Option<&str> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
        .map(|r| r.message.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_kind_and_names_the_operation() {
        let e = OpError::errno("create macvlan \"mv1\" in \"ns1\"", libc::EEXIST);
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
        assert_eq!(
            e.message,
            "create macvlan \"mv1\" in \"ns1\": File exists (EEXIST)"
        );
        assert_eq!(OpError::errno("x", libc::EINVAL).kind, ErrorKind::Kernel);
        assert_eq!(
            OpError::errno("x", libc::EPERM).kind,
            ErrorKind::PermissionDenied
        );
    }
}
