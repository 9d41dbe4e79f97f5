//! `netwasm-cni`: netwasm as a CNI plugin (see `netwasm::cni`).

fn main() -> std::process::ExitCode {
    netwasm::cni::main()
}
