//! The key-generation floor of `hapki init`: the wall time of generating exactly the keys a fresh
//! `init` of a profile generates (every CA level, leaf, JWT signing key and OCSP responder; the
//! list comes from `hapki::cmd::init::fresh_work` and `hapki::issue::planned_keys`, the functions
//! `init` itself plans with), in the same order, on the same scheduler
//! (`hapki::keys::generate_each` on every core), and nothing else: no signing, no file. An
//! `init` can only be slower than that; `scripts/bench.sh` runs the two alternately and reports
//! init / floor as a ratio of sums.
//!
//! Run: `cargo bench --bench keygen_floor -- --run [--profile FILE]` (default: the built-in
//! default profile, `profiles/canton-ha.toml`). One round per process, as `init` is one
//! process: the random source's one-time start-up (aws-lc's CPU jitter entropy, ≈ 30 ms) is paid
//! by the first key here as it is in `init`, so it counts on both sides.
//!
//! Output: one line, `keygen_floor keys=N wall_s=W rsa4096=A rsa3072=B rsa2048=C other=D`.

// A bench prints its measurements; the crate's print_stdout rule is for the tool's results.
#![allow(clippy::print_stdout)]

use hapki::model::KeyAlg;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary with no
    // argument at all: seconds of RSA key generation that measure nothing there, so it only
    // says how to run it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--run") {
        eprintln!(
            "keygen_floor: a benchmark; run it with `cargo bench --bench keygen_floor -- --run [--profile FILE]` or scripts/bench.sh"
        );
        return;
    }
    let profile = (args.iter().position(|a| a == "--profile"))
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let topo = match hapki::profile::Topology::load(profile.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("keygen_floor: {e}");
            std::process::exit(2);
        }
    };
    // A folder that does not exist: the work of an init on an empty tree.
    let out = std::env::temp_dir().join(format!("keygen-floor-none-{}", std::process::id()));
    let work = hapki::cmd::init::fresh_work(&topo, &out);
    let now = time::OffsetDateTime::now_utc();
    let algs = hapki::issue::planned_keys(&work, now);
    let count = |f: fn(&KeyAlg) -> bool| algs.iter().filter(|a| f(a)).count();

    let ok = std::sync::atomic::AtomicBool::new(true);
    let t0 = Instant::now();
    hapki::keys::generate_each(&algs, |_, key| {
        let good = key.is_ok();
        if !good {
            ok.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        std::hint::black_box(key).is_ok()
    });
    let wall = t0.elapsed().as_secs_f64();
    if !ok.into_inner() {
        eprintln!("keygen_floor: key generation failed");
        std::process::exit(2);
    }
    println!(
        "keygen_floor keys={} wall_s={wall:.3} rsa4096={} rsa3072={} rsa2048={} other={}",
        algs.len(),
        count(|a| *a == KeyAlg::Rsa4096),
        count(|a| *a == KeyAlg::Rsa3072),
        count(|a| *a == KeyAlg::Rsa2048),
        count(|a| !a.is_rsa()),
    );
}
