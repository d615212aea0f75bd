//! Single-thread throughput of the detectors over a labelled PII file (the dev set by
//! default): every record's text through `Guard::scan`, best and median of several passes.
//!
//! ```text
//! cargo bench -p tokpulse-guard --bench scan                      # ../shared/datasets/pii/dev.jsonl, 30 passes
//! cargo bench -p tokpulse-guard --bench scan -- FILE.jsonl 100    # another file, 100 passes
//! ```
//!
//! Also a steady workload for an instruction profiler (one pass after a warm-up):
//! `valgrind --tool=callgrind --toggle-collect='scan::timed_pass' target/release/deps/scan-* FILE 1`.
//! No timing is asserted; a missing file is skipped.

use std::hint::black_box;
use std::time::{Duration, Instant};
use tokpulse_guard::{Guard, GuardConfig};

fn main() {
    // `cargo bench` passes `--bench`; anything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let path = args.first().map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/datasets/pii/dev.jsonl")
        },
        std::path::PathBuf::from,
    );
    let passes: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(30);
    let Ok(file) = std::fs::read_to_string(&path) else {
        println!("scan: {} not found, skipped", path.display());
        return;
    };
    let texts: Vec<String> = match tokpulse_guard::eval::parse_gold(&file) {
        Ok(gold) => gold.into_iter().map(|r| r.text).collect(),
        Err(e) => {
            println!("scan: {}: {e}", path.display());
            return;
        }
    };
    let bytes: usize = texts.iter().map(String::len).sum();
    let guard = Guard::new(&GuardConfig::default());
    // Warm-up: lazy DFA states are built on first use.
    let mut found = 0;
    for t in &texts {
        found += guard.scan(t).len();
    }
    let mut times: Vec<Duration> = (0..passes.max(1))
        .map(|_| {
            let t0 = Instant::now();
            timed_pass(&guard, &texts);
            t0.elapsed()
        })
        .collect();
    times.sort();
    let mbs = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{} records, {bytes} bytes, {found} spans; {} passes: best {:.1} MB/s, median {:.1} MB/s",
        texts.len(),
        times.len(),
        mbs(times[0]),
        mbs(times[times.len() / 2]),
    );
}

/// One pass over every text; its own function so that a profiler can count it alone.
#[inline(never)]
fn timed_pass(guard: &Guard, texts: &[String]) {
    for t in texts {
        black_box(guard.scan(black_box(t)));
    }
}
