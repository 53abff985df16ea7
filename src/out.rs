//! Results on stdout. `println!` panics when stdout is closed (`hapki init | head -1`); a
//! result nobody reads is no reason to panic, so the rest of the output is dropped instead.

use std::io::Write;

/// Writes `text` to stdout, ignoring a closed or failing stdout.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// `println!` that never panics: see the module doc.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::print(&format!("{}\n", format_args!($($arg)*)))
    };
}
