//! Golden files for the manifest writers: every scenario of
//! `manifest_support` rendered and compared byte for byte with
//! `tests/golden/manifest/<scenario>/`. After an intended change, regenerate
//! with `UPDATE_GOLDEN=1 cargo test -p media --test manifest_golden` and
//! review the diff.

mod manifest_support;

use std::path::PathBuf;

use manifest_support::{SCENARIOS, render};

fn golden_dir(scenario: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/manifest")
        .join(scenario)
}

#[test]
fn manifests_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut mismatches = Vec::new();
    for scenario in SCENARIOS {
        let dir = golden_dir(scenario);
        let files = render(scenario);
        if update {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).expect("clear golden dir");
            }
            std::fs::create_dir_all(&dir).expect("create golden dir");
            for (name, text) in &files {
                std::fs::write(dir.join(name), text).expect("write golden");
            }
            continue;
        }
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", dir.display()))
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        on_disk.sort();
        let mut expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        expected.sort();
        if on_disk != expected {
            mismatches.push(format!("{scenario}: files {on_disk:?} != {expected:?}"));
        }
        for (name, text) in &files {
            let path = dir.join(name);
            let golden = std::fs::read_to_string(&path).unwrap_or_default();
            if &golden != text {
                let line = golden
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| golden.lines().count().min(text.lines().count()));
                mismatches.push(format!(
                    "{}: first difference at line {}:\n  golden: {:?}\n  now:    {:?}",
                    path.display(),
                    line + 1,
                    golden.lines().nth(line),
                    text.lines().nth(line)
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "manifests differ from golden files (UPDATE_GOLDEN=1 to accept):\n{}",
        mismatches.join("\n")
    );
}
