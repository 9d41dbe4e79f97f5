//! One line saying what a lab holds.

use crate::ledger::lab_state::Counts;
use crate::ledger::replay::Object;

/// "2 namespaces, 2 links, 1 address, 0 routes", counted as `netwasm ls`
/// counts them (a veth pair is two links).
pub fn summarize(objects: &[Object]) -> String {
    let c = Counts::of(objects);
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    [
        count(c.namespaces, "namespace", "namespaces"),
        count(c.links, "link", "links"),
        count(c.addresses, "address", "addresses"),
        count(c.routes, "route", "routes"),
    ]
    .join(", ")
        + &match c.programs {
            // Said only when there are any: the line stays as it was for
            // labs that run nothing.
            0 => String::new(),
            1 => ", 1 program".to_string(),
            n => format!(", {n} programs"),
        }
}
