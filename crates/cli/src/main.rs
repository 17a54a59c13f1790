//! `turva`: the one binary. Everything but starting the runtime lives in
//! the library (`lib.rs`).

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: glibc raises its mmap threshold
/// after the first freed argon2 block (19 MiB) and then keeps such blocks
/// in its heaps, so a burst of sign-ins left the server at 250 MiB for good
/// (22 MiB with a fixed threshold).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = turva::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("turva: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    match runtime.block_on(turva::run(cli, &mut input, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`turva backup list | head -1`)
        // has what it wanted: no error, as other command-line tools.
        Err(e) if stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turva: {}", turva::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
