//! One line saying what a lab holds.

use crate::ledger::replay::Object;

/// "2 namespaces, 3 links, 1 address, 0 routes".
pub fn summarize(objects: &[Object]) -> String {
    let count = |f: fn(&Object) -> bool, one: &str, many: &str| {
        let n = objects.iter().filter(|o| f(o)).count();
        format!("{n} {}", if n == 1 { one } else { many })
    };
    [
        count(
            |o| matches!(o, Object::Ns { .. }),
            "namespace",
            "namespaces",
        ),
        count(|o| matches!(o, Object::Link { .. }), "link", "links"),
        count(|o| matches!(o, Object::Addr { .. }), "address", "addresses"),
        count(|o| matches!(o, Object::Route { .. }), "route", "routes"),
    ]
    .join(", ")
        + &match objects
            .iter()
            .filter(|o| matches!(o, Object::Process { .. }))
            .count()
        {
            // Said only when there are any: the line stays as it was for
            // labs that run nothing.
            0 => String::new(),
            1 => ", 1 program".to_string(),
            n => format!(", {n} programs"),
        }
}
