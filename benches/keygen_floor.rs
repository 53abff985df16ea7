//! The key-generation floor of `hapki init` on the default profile: the CPU time of generating
//! exactly its keys (6 RSA-4096 for the CAs, 27 RSA-2048 for the 25 TLS leaves and the 2 JWT
//! signing keys) in-process, one after the other on one thread. Divided by the number of cores it
//! is the least wall time any tool can take to make them, so `init`'s overhead above it is what
//! hapki itself costs. `scripts/bench.sh` runs it; run it alone with
//! `cargo bench --bench keygen_floor [-- ROUNDS]`.
//!
//! Output: one line per round, `keygen_floor round=R cpu_s=S rsa4096_ms=A rsa2048_ms=B`, with
//! the CPU time of the round and the mean CPU time per key of each size.

// A bench prints its measurements; the crate's print_stdout rule is for the tool's results.
#![allow(clippy::print_stdout)]

use hapki::model::KeyAlg;
use std::time::Instant;

const RSA4096: usize = 6;
const RSA2048: usize = 27;

/// CPU time this thread has run, in seconds: the first field of /proc/thread-self/schedstat is
/// nanoseconds on a CPU. CPU time, not wall time, so a busy machine does not inflate the floor.
fn thread_cpu() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// CPU seconds (or wall seconds where schedstat is missing) spent generating `n` keys of `alg`.
fn generate(alg: KeyAlg, n: usize) -> f64 {
    let (cpu0, wall0) = (thread_cpu(), Instant::now());
    for _ in 0..n {
        let k = hapki::keys::generate(alg).expect("key generation works");
        std::hint::black_box(k);
    }
    match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) => b - a,
        _ => wall0.elapsed().as_secs_f64(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the only argument of our own is the number of rounds.
    // `cargo test --all-targets` runs this binary with neither: seconds of RSA key generation
    // that measure nothing there, so it only says how to run it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("keygen_floor: a benchmark; run it with `cargo bench --bench keygen_floor` or scripts/bench.sh");
        return;
    }
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1);
    if thread_cpu().is_none() {
        eprintln!("keygen_floor: /proc/thread-self/schedstat is missing; reporting wall time");
    }
    // One key first, so the random source's one-time start-up is not charged to the floor.
    hapki::keys::generate(KeyAlg::EcdsaP256).expect("key generation works");
    for round in 1..=rounds {
        let big = generate(KeyAlg::Rsa4096, RSA4096);
        let small = generate(KeyAlg::Rsa2048, RSA2048);
        println!(
            "keygen_floor round={round} cpu_s={:.3} rsa4096_ms={:.1} rsa2048_ms={:.1}",
            big + small,
            big * 1e3 / RSA4096 as f64,
            small * 1e3 / RSA2048 as f64
        );
    }
}
