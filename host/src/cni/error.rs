//! The CNI error object (spec 1.1, "Error"): what netwasm prints when an
//! operation fails, and what it reads back from a delegated plugin.
//!
//! Ours rather than `rscni_types::error::Error`: that type rebuilds `msg`
//! from the code for the standard codes, so an IPAM plugin's own message
//! would be lost on the way through, and netwasm's messages name the input
//! (`CNI_IFNAME eth0/1: ...`) where the spec's short texts do not. The codes
//! are the spec's, and [`CniError::from_rscni`] maps the crate's errors in.

use serde::{Deserialize, Serialize};

/// The spec's error codes netwasm emits. 1-99 are reserved by the spec; its
/// 1.1 revision gives 50 and 51 to STATUS, so netwasm's own codes start at
/// 100, as the spec asks of plugin-specific ones.
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENVIRONMENT: u32 = 4;
    pub const IO_FAILURE: u32 = 5;
    pub const DECODING_FAILURE: u32 = 6;
    pub const INVALID_NETWORK_CONFIG: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// STATUS: the plugin cannot service ADD requests.
    pub const PLUGIN_NOT_AVAILABLE: u32 = 50;
    /// STATUS: as 50, and existing attachments may have limited connectivity.
    pub const PLUGIN_NOT_AVAILABLE_LIMITED: u32 = 51;
    /// netwasm: the guest refused the operation or failed (trapped, timed out).
    pub const GUEST_FAILED: u32 = 100;
    /// netwasm: the policy denied an effect the guest asked for.
    pub const POLICY_DENIED: u32 = 101;
    /// ADD of an attachment netwasm-cni already holds (DEL it first).
    pub const ATTACHMENT_EXISTS: u32 = 102;
}

/// A CNI error: `code`, a one-line `msg` naming the input at fault, and
/// optional `details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    /// Defaulted on reading: the reference library omits it when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    pub fn env(msg: impl Into<String>) -> Self {
        Self::new(code::INVALID_ENVIRONMENT, msg)
    }

    pub fn config(msg: impl Into<String>) -> Self {
        Self::new(code::INVALID_NETWORK_CONFIG, msg)
    }

    pub fn decode(msg: impl Into<String>) -> Self {
        Self::new(code::DECODING_FAILURE, msg)
    }

    pub fn io(msg: impl Into<String>) -> Self {
        Self::new(code::IO_FAILURE, msg)
    }

    /// Maps an error of `rscni-types` (version parsing, name checks), with
    /// `what` naming the input it was about.
    pub fn from_rscni(what: &str, e: &rscni_types::error::Error) -> Self {
        Self::new(u32::from(e), format!("{what}: {}", e.details()))
    }
}

impl std::fmt::Display for CniError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CNI error {}: {}", self.code, self.msg)?;
        if !self.details.is_empty() {
            write!(f, " ({})", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for CniError {}

/// The wire form: the error plus the `cniVersion` it is reported under.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Wire<'a> {
    pub cni_version: &'a str,
    #[serde(flatten)]
    pub error: &'a CniError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_wire_form_without_details() {
        let e: CniError = serde_json::from_str(r#"{"code":4,"msg":"x"}"#).unwrap();
        assert_eq!(e, CniError::env("x"));
    }

    #[test]
    fn rscni_errors_keep_their_code_and_name_the_input() {
        let e = "9.x"
            .parse::<rscni_types::version::SpecVersion>()
            .unwrap_err();
        let e = CniError::from_rscni("cniVersion", &e);
        assert_eq!(e.code, code::DECODING_FAILURE);
        assert_eq!(e.msg, "cniVersion: invalid version format: 9.x");
    }
}
