//! A progress bar on stderr (drawn only on a terminal).

use indicatif::{ProgressBar, ProgressStyle};

pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(unit: &str) -> Bar {
        let bar = ProgressBar::hidden();
        let style = ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit} ({{per_sec}}, ETA {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Bar { bar }
    }
}

impl ingest::Progress for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }

    fn found(&self, n: u64) {
        self.bar.inc_length(n);
    }

    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
