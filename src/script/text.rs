//! Bindings for packets as text (`crate::text`) and `edit()` in `$EDITOR`.

use super::pcap::to_packets as packets;
use super::{UserError, err_help, err_msg, user_err};
use crate::packet::Packet;
use crate::text::{self, TextError, TextOptions, TextWriter};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

type R<T> = Result<T, Box<EvalAltResult>>;

impl From<TextError> for UserError {
    fn from(e: TextError) -> Self {
        UserError {
            message: e.to_string(),
            help: e.help.clone(),
        }
    }
}

fn options(m: &Map) -> R<TextOptions> {
    let mut o = TextOptions::default();
    for (k, v) in m {
        match k.as_str() {
            "fields" => {
                o.fields = v.as_bool().map_err(|t| {
                    err_msg(format!("the `fields` option is true or false, not {t}"))
                })?
            }
            other => {
                return Err(err_help(
                    format!("unknown text option `{other}`"),
                    "the option is #{fields: true} (one line per field after the hex)",
                ));
            }
        }
    }
    Ok(o)
}

fn array_text(list: Vec<Packet>, opts: TextOptions) -> String {
    let mut w = TextWriter::new(Vec::new(), opts);
    for mut p in list {
        // Writing to memory cannot fail.
        let _ = w.write(&mut p);
    }
    String::from_utf8_lossy(&w.into_inner()).into_owned()
}

fn to_array(v: Vec<Packet>) -> Array {
    v.into_iter().map(Dynamic::from).collect()
}

fn write_text(path: &str, list: Vec<Packet>, opts: TextOptions) -> R<i64> {
    let mut list = list;
    text::write_file(std::path::Path::new(path), &mut list, opts).map_err(user_err)?;
    Ok(list.len() as i64)
}

pub fn register(e: &mut Engine) {
    e.register_fn("to_text", |p: &mut Packet| {
        text::to_text(p, TextOptions::default())
    })
    .register_fn("to_text", |p: &mut Packet, m: Map| -> R<String> {
        Ok(text::to_text(p, options(&m)?))
    })
    .register_fn("to_text", |a: Array| -> R<String> {
        Ok(array_text(packets(a)?, TextOptions::default()))
    })
    .register_fn("to_text", |a: Array, m: Map| -> R<String> {
        Ok(array_text(packets(a)?, options(&m)?))
    })
    .register_fn("parse_text", |s: &str| -> R<Array> {
        text::parse_text(s, "<text>")
            .map(to_array)
            .map_err(user_err)
    })
    .register_fn("read_text", |path: &str| -> R<Array> {
        text::read_file(std::path::Path::new(path))
            .map(to_array)
            .map_err(user_err)
    })
    .register_fn("write_text", |path: &str, a: Array| -> R<i64> {
        write_text(path, packets(a)?, TextOptions::default())
    })
    .register_fn("write_text", |path: &str, a: Array, m: Map| -> R<i64> {
        write_text(path, packets(a)?, options(&m)?)
    })
    .register_fn("write_text", |path: &str, p: Packet| -> R<i64> {
        write_text(path, vec![p], TextOptions::default())
    })
    .register_fn("write_text", |path: &str, p: Packet, m: Map| -> R<i64> {
        write_text(path, vec![p], options(&m)?)
    })
    .register_fn("edit", |p: Packet| -> R<Packet> {
        let mut out = edit_packets(vec![p])?;
        match out.len() {
            1 => Ok(out.remove(0)),
            n => Err(err_help(
                format!("the edited text holds {n} packets, and edit(p) returns one"),
                "keep one `-- N --` ... `==` block, or edit an array: edit([p, q])",
            )),
        }
    })
    .register_fn("edit", |a: Array| -> R<Array> {
        edit_packets(packets(a)?).map(to_array)
    });
}

const EDIT_HEADER: &str = "\
# pktscript edit: change field lines (`ip.ttl: 64`) or the hex, save and quit.
# A field line that differs from the bytes is applied as an edit, and the
# lengths and checksums covering it follow, unless you edit them too.
# Lines starting with # are ignored. Quit without saving to keep the packet.
";

/// Opens the packets' text in `$VISUAL` or `$EDITOR` (else `vi`) and reads
/// it back. The packets are returned unchanged if the text is; a text that
/// does not parse is shown again (on a terminal) or reported.
fn edit_packets(orig: Vec<Packet>) -> R<Vec<Packet>> {
    let fields = TextOptions { fields: true };
    let mut body = String::from(EDIT_HEADER);
    body.push_str(&array_text(orig.clone(), fields));
    let path = temp_path();
    // A new file (O_EXCL), so a link planted in a shared /tmp is not followed.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, body.as_bytes()))
        .map_err(|e| {
            err_msg(format!(
                "cannot write the temporary file {}: {e}",
                path.display()
            ))
        })?;
    let result = (|| {
        loop {
            run_editor(&path)?;
            let edited = std::fs::read_to_string(&path)
                .map_err(|e| err_msg(format!("cannot read back {}: {e}", path.display())))?;
            if edited == body {
                return Ok(orig.clone());
            }
            match text::parse_text(&edited, &path.display().to_string()) {
                Ok(mut list) => {
                    for (p, o) in list.iter_mut().zip(&orig) {
                        p.iface.clone_from(&o.iface);
                        p.direction = o.direction;
                    }
                    return Ok(list);
                }
                Err(e) => {
                    if !again(&e) {
                        return Err(user_err(e));
                    }
                }
            }
        }
    })();
    let _ = std::fs::remove_file(&path);
    result
}

fn temp_path() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("pktscript-edit-{}-{n}.txt", std::process::id()))
}

fn run_editor(path: &std::path::Path) -> R<()> {
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_string());
    // Through the shell, so EDITOR="code -w" works as it does for git.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
        .map_err(|e| err_msg(format!("cannot start the editor `{editor}`: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(err_help(
            format!("the editor `{editor}` failed ({status}); the packet is unchanged"),
            "set EDITOR (or VISUAL) to an editor that waits until the file is closed",
        ))
    }
}

/// On a terminal: shows the error and asks whether to edit again.
fn again(e: &TextError) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprintln!("{:?}", miette::Report::new(e.clone()));
    eprint!("Edit again? [Y/n] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    !answer.trim().to_ascii_lowercase().starts_with('n')
}
