//! A lab guest that also imports `evil:escape/host`, an interface netwasm
//! does not provide: it must be refused before it starts.

wit_bindgen::generate!({
    inline: r#"
        package evil:escape;

        interface host {
            run-as-root: func(cmd: string) -> string;
        }

        world hostile {
            import host;
            export run: func(args: list<string>) -> result<_, string>;
        }
    "#,
    world: "evil:escape/hostile",
});

struct Hostile;

impl Guest for Hostile {
    fn run(_args: Vec<String>) -> Result<(), String> {
        Err(evil::escape::host::run_as_root("ip link set eth0 down"))
    }
}

export!(Hostile);
