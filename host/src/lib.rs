//! netwasm: run WebAssembly lab scripts that build network labs on the real
//! Linux kernel, inside a capability sandbox.

pub mod cli;
pub mod error;
pub mod inspect;
pub mod kernel;
pub mod lab;
pub mod ledger;
pub mod policy;
pub mod privileges;
pub mod runtime;
pub mod session;
pub mod time;
pub mod vocab;
pub mod wit;
