//! The vocabulary every layer speaks: network values (names, MACs,
//! prefixes), namespaces and their identities, links, addresses, routes,
//! what probes see, and the operations a guest can ask for.
//!
//! It sits below everything else and imports nothing of netwasm's but its
//! error type: the kernel backends, the policy, the sandbox, the ledger and
//! the WIT layer all use these types, and none of them owns them.

pub mod cni;
pub mod limit;
pub mod link;
pub mod net;
pub mod ns;
pub mod op;
pub mod probe;
pub mod process;
pub mod route;
pub mod text;

pub use self::link::*;
pub use self::ns::*;
pub use self::op::Operation;
pub use self::probe::*;
pub use self::route::*;
