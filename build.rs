//! Embeds every `stdlib/*.rhai` module in the binary.
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=stdlib");
    let mut entries: Vec<String> = Vec::new();
    if let Ok(dir) = fs::read_dir("stdlib") {
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rhai")
                && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
            {
                let abs = fs::canonicalize(&p).expect("stdlib path");
                entries.push(format!(
                    "    ({stem:?}, include_str!({:?})),\n",
                    abs.display().to_string()
                ));
            }
        }
    }
    entries.sort();
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("stdlib.rs");
    fs::write(
        out,
        format!(
            "pub static STDLIB: &[(&str, &str)] = &[\n{}];\n",
            entries.concat()
        ),
    )
    .expect("write stdlib.rs");
}
