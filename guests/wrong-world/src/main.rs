//! A plain WASI command: a valid component, but not of world netwasm:lab/lab.
fn main() {
    println!("hello from a WASI command");
}
