//! The process panic hook: a panic reports where it happened, never its
//! message.
//!
//! A panic message is built from whatever the failing code had at hand (the
//! `Debug` of an error passed to `unwrap`, the arguments of an `assert!`, a
//! slice index), and in a key server that may be a content key, a token or
//! the admin token; DESIGN.md: keys never appear in logs or errors. The
//! thread and the source location are enough to find the code; a backtrace
//! (`RUST_BACKTRACE=1`) holds only frames, no values, so it is kept.

use std::backtrace::{Backtrace, BacktraceStatus};

/// What the hook prints instead of the message.
pub const WITHHELD: &str = "message withheld: it may contain secrets";

/// Replaces the default hook (which prints the payload) for the whole process.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let at = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "an unknown location".into());
        let backtrace = Backtrace::capture();
        let backtrace = match backtrace.status() {
            BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        eprintln!(
            "castguard: internal error: thread '{}' panicked at {at} ({WITHHELD}){backtrace}",
            thread.name().unwrap_or("<unnamed>")
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const CHILD: &str = "CASTGUARD_PANIC_HOOK_CHILD";
    const SECRET: &str = "c0ffee00c0ffee11c0ffee22c0ffee33";

    /// Runs itself again as a child process that installs the hook and
    /// panics with a key in the message: the child's stderr names the
    /// location but not the key.
    #[test]
    fn panic_prints_location_not_message() {
        if std::env::var_os(CHILD).is_some() {
            install();
            let key = SECRET.to_string();
            let parsed: Result<u8, String> = Err(key);
            parsed.expect("key rejected");
            return;
        }
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "panic_hook::tests::panic_prints_location_not_message",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "the child did not panic: {stdout}");
        assert!(
            stderr.contains("panicked at") && stderr.contains("panic_hook.rs"),
            "{stderr}"
        );
        assert!(stderr.contains(WITHHELD), "{stderr}");
        assert!(
            !stderr.contains(SECRET) && !stdout.contains(SECRET),
            "the panic message leaked"
        );
        assert!(
            !stderr.contains("key rejected"),
            "the panic message was printed: {stderr}"
        );
    }
}
