//! `cargo run --release -p synth --example synth -- OUT PATIENTS [SEED] [YEARS]`
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synth OUT PATIENTS [SEED] [YEARS] [FAULT_RATE]");
        std::process::exit(2);
    }
    let opts = synth::Options {
        patients: args[2].parse().expect("patients"),
        seed: args.get(3).map_or(1, |s| s.parse().expect("seed")),
        years: args.get(4).map_or(3, |s| s.parse().expect("years")),
        fault_rate: args.get(5).map_or(0.0, |s| s.parse().expect("fault rate")),
        extended: true,
        ..synth::Options::default()
    };
    let done = AtomicU64::new(0);
    let t = Instant::now();
    let s = synth::generate(&opts, std::path::Path::new(&args[1]), &|n| {
        done.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    let secs = t.elapsed().as_secs_f64();
    println!("{}", serde_json::to_string_pretty(&s).unwrap());
    println!(
        "{:.1} s, {:.0} messages/s, {:.1} MB, estimate was {}",
        secs,
        s.messages as f64 / secs,
        s.bytes as f64 / 1e6,
        opts.estimated_messages()
    );
}
