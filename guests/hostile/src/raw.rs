//! Calls into the host through the canonical ABI directly, with arguments
//! no binding generator would produce: what a guest written in any
//! language (or by hand) can pass the host.

/// Room for any result of `netwasm:lab/namespace`: a `result<_, error>`
/// whose error carries at most two strings.
#[repr(C, align(8))]
struct RetArea([u8; 64]);

#[link(wasm_import_module = "netwasm:lab/namespace@0.1.0")]
unsafe extern "C" {
    /// `create: func(name: string) -> result<netns, error>`.
    #[link_name = "create"]
    fn create(ptr: *const u8, len: usize, ret: *mut RetArea);
    /// `create-all: func(names: list<string>) -> result<list<netns>, error>`.
    #[link_name = "create-all"]
    fn create_all(ptr: *const [u32; 2], len: usize, ret: *mut RetArea);
}

/// `namespace.create` with a name of `len` bytes at address `ptr`.
pub fn create_at(ptr: usize, len: usize) {
    let mut ret = RetArea([0; 64]);
    // SAFETY: the host reads `len` bytes at `ptr` through the canonical
    // ABI, which checks them against the guest's memory (that is the
    // attack); it writes only into `ret`.
    unsafe { create(ptr as *const u8, len, &mut ret) };
}

/// `namespace.create` with `name`, whatever bytes it holds.
pub fn create_bytes(name: &[u8]) {
    create_at(name.as_ptr() as usize, name.len());
}

/// `namespace.create-all` with `n` empty names: 8 bytes each in the
/// guest's memory, and a whole `String` each on the host.
pub fn create_all_empty(n: usize) {
    let names = vec![[0u32; 2]; n];
    let mut ret = RetArea([0; 64]);
    // SAFETY: `names` holds `n` (pointer, length) pairs, each the empty
    // string at address 0; the host writes only into `ret` and memory it
    // allocates through the guest's realloc.
    unsafe { create_all(names.as_ptr(), n, &mut ret) };
    std::hint::black_box(names);
}
