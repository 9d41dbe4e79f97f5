//! A guest written to break out of, or wear down, the sandbox. The first
//! argument picks the attack; `tests/sandbox.rs` asserts each outcome.

mod raw;

use netwasm_guest::bindings::netwasm::lab::namespace::Netns;
use netwasm_guest::{Error, Namespace, Result};

fn run(args: Vec<String>) -> Result<()> {
    let what = args.first().map(String::as_str).unwrap_or("");
    let name = args.get(1).cloned().unwrap_or_else(|| "hostile".into());
    match what {
        // Spin forever: stopped by fuel or the deadline.
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        // Allocate until something gives: the memory limit.
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        // Recurse without end: the stack limit.
        "recursion" => {
            // Scalars only, so the frames live on the engine's stack rather
            // than the guest's own shadow stack in linear memory; and not a
            // tail call, so the compiler cannot turn it into a loop.
            fn dive(n: u64, limit: u64) -> u64 {
                if n == limit {
                    return n;
                }
                dive(n + 1, limit).wrapping_mul(3) ^ n
            }
            let limit = name.parse().unwrap_or(u64::MAX);
            println!("{}", dive(0, limit));
            Ok(())
        }
        // Clear the user's terminal, retitle it, and fake netwasm's own
        // messages.
        "ansi" => {
            println!("\x1b[2J\x1b]0;pwned\x07clear\rnetwasm: error: fake");
            eprintln!("\x1b[31mred\x1b[0m\u{9b}31m");
            Ok(())
        }
        // Print N copies of the byte B, in as few writes as WASI allows:
        // each newline costs a `[guest] ` mark, each control byte an
        // escape. Args: B N.
        "spray" => {
            use std::io::Write;
            let byte = number(&args, 1)? as u8;
            let n = number(&args, 2)? as usize;
            std::io::stdout()
                .write_all(&vec![byte; n])
                .expect("stdout took it all");
            Ok(())
        }
        // Print without end: the output limit.
        "flood" => loop {
            println!("{}", "flood ".repeat(100));
        },
        // Hoard handles: open the same namespace again and again.
        "handles" => {
            Namespace::create(&name)?;
            let mut held = Vec::new();
            loop {
                held.push(Namespace::open(&name)?);
            }
        }
        // Use a namespace handle after deleting it.
        "use-after-drop" => {
            let ns = Namespace::create(&name)?;
            let raw = ns.handle().handle();
            ns.delete()?;
            // SAFETY: deliberately not: the handle index was consumed above.
            let forged = unsafe { Netns::from_handle(raw) };
            println!("name after delete: {}", forged.name());
            Ok(())
        }
        // Make up a handle index that was never issued.
        "forged-handle" => {
            // SAFETY: deliberately not: no such handle exists.
            let forged = unsafe { Netns::from_handle(4242) };
            println!("forged: {}", forged.name());
            Ok(())
        }
        // Try the network and the file system through WASI.
        "sockets" => {
            match std::net::TcpStream::connect(("127.0.0.1", 22)) {
                Ok(_) => println!("tcp connect: CONNECTED"),
                Err(e) => println!("tcp connect: refused: {e}"),
            }
            match std::net::UdpSocket::bind(("0.0.0.0", 0)) {
                Ok(s) => match s.send_to(b"x", ("127.0.0.1", 53)) {
                    Ok(_) => println!("udp send: SENT"),
                    Err(e) => println!("udp send: refused: {e}"),
                },
                Err(e) => println!("udp bind: refused: {e}"),
            }
            match std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)) {
                Ok(mut a) => println!("name lookup: RESOLVED {:?}", a.next()),
                Err(e) => println!("name lookup: refused: {e}"),
            }
            Ok(())
        }
        "files" => {
            for path in ["/", "/etc/passwd", "/run/netns", "."] {
                match std::fs::read_dir(path) {
                    Ok(_) => println!("read_dir {path}: OPENED"),
                    Err(e) => println!("read_dir {path}: refused: {e}"),
                }
            }
            match std::fs::write("/tmp/netwasm-escape", b"x") {
                Ok(()) => println!("write: WROTE"),
                Err(e) => println!("write: refused: {e}"),
            }
            match std::env::var("HOME") {
                Ok(v) => println!("env HOME: LEAKED {v}"),
                Err(_) => println!("env HOME: absent"),
            }
            Ok(())
        }
        // Make the host keep what the guest says: LONG labels of 16 MiB
        // each, then up to N expectations, one of them unmet, each probed
        // and printed in the matrix. Args: NS LONG N.
        "expect-flood" => {
            let (long, n) = (number(&args, 2)?, number(&args, 3)?);
            let ns = Namespace::create(&name)?;
            // No route to anywhere: each probe answers at once.
            ns.expect_reachable("10.0.0.1", "the one that is not met")?;
            let label = "L".repeat(16 << 20);
            for i in 0..long {
                match ns.expect_unreachable("10.0.0.1", &label) {
                    Ok(()) => println!("long label {i}: KEPT"),
                    Err(e) => println!("long label {i}: {e}"),
                }
            }
            let label = "l".repeat(200);
            for i in 0..n {
                if let Err(e) = ns.expect_unreachable("10.0.0.1", &label) {
                    println!("expectation {i}: {e}");
                    break;
                }
            }
            Ok(())
        }
        // Leave N expectations that the loopback answers to be probed all
        // at once, each probe holding a socket. Args: NS N.
        "probe-flood" => {
            let n = number(&args, 2)?;
            let ns = Namespace::create(&name)?;
            ns.link("lo")?.up()?;
            for _ in 0..n {
                ns.expect_reachable("127.0.0.1", "")?;
            }
            Ok(())
        }
        // End the run through WASI instead of returning, after creating a
        // namespace and leaving an expectation that is met (ok) or not
        // (unmet). Args: NS STATUS ok|unmet.
        "exit" => {
            let status = number(&args, 2)?;
            let ns = Namespace::create(&name)?;
            match args.get(3).map(String::as_str) {
                Some("unmet") => ns.expect_reachable("10.0.0.1", "no route")?,
                _ => ns.expect_unreachable("10.0.0.1", "no route")?,
            }
            std::process::exit(status as i32)
        }
        // Make the host repeat N bytes of the guest's choosing: in the
        // audit log (a namespace name, and the error naming it) and in the
        // report of the run's failure. Args: N.
        "shout" => {
            let n = number(&args, 1)? as usize;
            match Namespace::create(&"n".repeat(n)) {
                Ok(_) => Err(Error::msg("a namespace with a long name: CREATED")),
                Err(e) => Err(Error::msg(format!("{e}{}", "!".repeat(n)))),
            }
        }
        // Hand the host a string it cannot lift: one that runs past the
        // end of the guest's memory, or is not UTF-8.
        "bad-string" => {
            match name.as_str() {
                "out-of-bounds" => raw::create_at(u32::MAX as usize - 16, 4096),
                _ => raw::create_bytes(b"ns\xff\xfe"),
            }
            Err(Error::msg("the host took a string it cannot read: LIFTED"))
        }
        // Make the host allocate more in one call than the guest holds:
        // N empty names are 8 bytes each here, 24 on the host. Args: N.
        "lift" => {
            raw::create_all_empty(number(&args, 1)? as usize);
            Err(Error::msg("the host lifted every name"))
        }
        other => Err(Error::msg(format!("unknown attack {other:?}"))),
    }
}

/// Argument `i` as a number.
fn number(args: &[String], i: usize) -> Result<u64> {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| Error::msg(format!("argument {i}: a number")))
}

netwasm_guest::main!(run);
