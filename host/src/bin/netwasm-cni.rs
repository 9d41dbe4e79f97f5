//! `netwasm-cni`: netwasm as a CNI plugin (see `netwasm::cni`).

fn main() {
    netwasm::cni::main()
}
