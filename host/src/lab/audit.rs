//! The audit log (`netwasm run --audit FILE`): one JSON line per host call,
//! written as the run goes, so a log of a run that was killed is complete up
//! to the call in flight.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use serde_json::{Value, json};

use crate::error::{ErrorKind, Failure, HostResult};
use crate::vocab::Operation;
use crate::vocab::text::clip;

pub struct Audit {
    sink: Sink,
}

enum Sink {
    File {
        file: File,
        path: String,
    },
    /// Kept for the caller to read back (`netwasm plan` shows every
    /// decision of the run).
    Memory(AuditLines),
}

/// The lines of an in-memory audit log, in order.
pub type AuditLines = Arc<Mutex<Vec<Value>>>;

impl Audit {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("audit log {}: cannot create", path.display()))?;
        Ok(Self {
            sink: Sink::File {
                file,
                path: path.display().to_string(),
            },
        })
    }

    /// An audit log kept in memory, and the handle to read it by.
    pub fn in_memory() -> (Self, AuditLines) {
        let lines = AuditLines::default();
        (
            Self {
                sink: Sink::Memory(lines.clone()),
            },
            lines,
        )
    }

    /// Writes the line for one call. `result` is the call's outcome.
    pub fn record<T>(
        &mut self,
        op: Operation,
        args: Value,
        result: &HostResult<T>,
    ) -> anyhow::Result<()> {
        let (decision, rule, outcome) = match result {
            Ok(_) => ("allowed", Value::Null, json!("ok")),
            Err(Failure::Op(e))
                if matches!(e.kind, ErrorKind::Denied | ErrorKind::LimitReached) =>
            {
                (
                    "denied",
                    json!(clip(&e.message, MAX_AUDIT_STRING)),
                    json!({ "error": kind_name(e.kind) }),
                )
            }
            Err(Failure::Op(e)) => (
                "allowed",
                Value::Null,
                json!({ "error": kind_name(e.kind), "message": clip(&e.message, MAX_AUDIT_STRING), "errno": e.errno }),
            ),
            Err(Failure::Trap(e)) => ("allowed", Value::Null, json!({ "trap": format!("{e:#}") })),
        };
        let mut line = json!({
            "time": crate::time::rfc3339_now(),
            "op": op.as_str(),
            "args": clip_strings(args),
            "decision": decision,
            "result": outcome,
        });
        if !rule.is_null() {
            line["rule"] = rule;
        }
        match &mut self.sink {
            Sink::File { file, path } => {
                let mut text = line.to_string();
                text.push('\n');
                file.write_all(text.as_bytes())
                    .with_context(|| format!("audit log {path}: cannot write"))
            }
            Sink::Memory(lines) => {
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                Ok(())
            }
        }
    }
}

/// The most of one string (an argument, an error message that repeats
/// one) a line keeps: the guest decides how long they are, and a run may
/// make a million calls.
const MAX_AUDIT_STRING: usize = 1024;

fn clip_strings(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(clip(&s, MAX_AUDIT_STRING)),
        Value::Array(a) => Value::Array(a.into_iter().map(clip_strings).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, clip_strings(v))).collect())
        }
        other => other,
    }
}

pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "not-found",
        ErrorKind::AlreadyExists => "already-exists",
        ErrorKind::InvalidArgument => "invalid-argument",
        ErrorKind::Busy => "busy",
        ErrorKind::PermissionDenied => "permission-denied",
        ErrorKind::Denied => "denied",
        ErrorKind::LimitReached => "limit-reached",
        ErrorKind::Kernel => "kernel",
    }
}
