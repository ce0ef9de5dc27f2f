//! Bindings for tests: `expect_pcap` compares packets with a golden pcap
//! (or, with `--bless`, writes it).

use super::pcap::{packet_from_record, write_packets};
use super::{Options, err_help, err_msg, user_err};
use crate::compare::{CompareOptions, compare_packets};
use crate::packet::Packet;
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

type R<T> = Result<T, Box<EvalAltResult>>;

thread_local! {
    /// Golden files written by `--bless` on this thread: (path, was new).
    static BLESSED: RefCell<Vec<(String, bool)>> = const { RefCell::new(Vec::new()) };
}

/// Takes the list of golden files blessed on this thread since the last call.
pub fn take_blessed() -> Vec<(String, bool)> {
    BLESSED.with(|b| std::mem::take(&mut *b.borrow_mut()))
}

fn packets(a: Array) -> R<Vec<Packet>> {
    a.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let t = v.type_name().to_string();
            v.try_cast::<Packet>()
                .ok_or_else(|| err_msg(format!("expect_pcap: element {i} is a {t}, not a packet")))
        })
        .collect()
}

fn options(m: &Map) -> R<CompareOptions> {
    let mut o = CompareOptions {
        timestamps: false,
        ignore: Vec::new(),
    };
    for (k, v) in m {
        match k.as_str() {
            "timestamps" => {
                o.timestamps = v.as_bool().map_err(|t| {
                    err_msg(format!(
                        "expect_pcap: timestamps takes true or false, not {t}"
                    ))
                })?
            }
            "ignore" => {
                let list = v.clone().try_cast::<Array>().ok_or_else(|| {
                    err_help(
                        "expect_pcap: ignore takes an array of field paths",
                        "#{ignore: [\"ip.id\", \"ip.chksum\"]}",
                    )
                })?;
                for x in list {
                    let s = x.into_string().map_err(|t| {
                        err_msg(format!(
                            "expect_pcap: ignore holds a {t}, not a \"layer.field\" string"
                        ))
                    })?;
                    o.ignore.push(s);
                }
            }
            other => {
                return Err(err_help(
                    format!("expect_pcap has no option `{other}`"),
                    "options: timestamps, ignore",
                ));
            }
        }
    }
    Ok(o)
}

fn expect(dir: &Path, bless: bool, actual: Array, golden: &str, opts: &Map) -> R<()> {
    let cmp = options(opts)?;
    let mut actual = packets(actual)?;
    let path: PathBuf = if Path::new(golden).is_absolute() {
        PathBuf::from(golden)
    } else {
        dir.join(golden)
    };
    let shown = path.display().to_string();
    if bless {
        let existed = path.exists();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| err_msg(format!("cannot create {}: {e}", parent.display())))?;
        }
        write_packets(&shown, &mut actual).map_err(user_err)?;
        BLESSED.with(|b| b.borrow_mut().push((shown, !existed)));
        return Ok(());
    }
    if !path.exists() {
        return Err(err_help(
            format!("golden file {shown} does not exist"),
            "run the tests once with --bless to write it from the current output (then check it and commit it)",
        ));
    }
    let records = crate::pcap::read_all(&path).map_err(user_err)?;
    let mut expected: Vec<Packet> = records.into_iter().map(packet_from_record).collect();
    compare_packets(&mut expected, &mut actual, &cmp).map_err(|report| {
        err_help(
            format!("packets differ from {shown}\n{report}"),
            "if the new output is right, run with --bless to update the golden file",
        )
    })
}

/// `run_script(path, args)`: runs another script file (relative to the
/// current directory) in a fresh engine, its output captured; returns
/// `#{status, output}`, status 1 with the error report as output on error.
fn run_script(path: &str, args: Array, max_operations: u64) -> R<Map> {
    let args: Vec<String> = args.into_iter().map(|a| a.to_string()).collect();
    let outer = super::take_sink();
    let buf = std::rc::Rc::new(RefCell::new(String::new()));
    super::capture_output(Some(buf.clone()));
    let opts = Options {
        max_operations,
        ..Options::default()
    };
    let res = super::run_file(Path::new(path), &args, &opts);
    super::capture_output(outer);
    let mut output = buf.borrow().clone();
    let status = match res {
        Ok(super::Outcome::Exit(c)) => c as i64,
        Ok(super::Outcome::Value(_)) => 0,
        Err(report) => {
            let handler = miette::GraphicalReportHandler::new_themed(
                miette::GraphicalTheme::unicode_nocolor(),
            );
            let _ = handler.render_report(&mut output, report.as_ref());
            1
        }
    };
    let mut m = Map::new();
    m.insert("status".into(), Dynamic::from_int(status));
    m.insert("output".into(), Dynamic::from(output));
    Ok(m)
}

pub fn register(e: &mut Engine, opts: &Options) {
    let max_ops = opts.max_operations;
    e.register_fn("run_script", move |path: &str, args: Array| {
        run_script(path, args, max_ops)
    });
    let dir = opts
        .script_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let bless = opts.bless;
    let d = dir.clone();
    e.register_fn("expect_pcap", move |a: Array, golden: &str| {
        expect(&d, bless, a, golden, &Map::new())
    });
    let d = dir.clone();
    e.register_fn("expect_pcap", move |a: Array, golden: &str, m: Map| {
        expect(&d, bless, a, golden, &m)
    });
    let d = dir;
    e.register_fn("expect_pcap", move |p: Packet, golden: &str| {
        expect(&d, bless, vec![Dynamic::from(p)], golden, &Map::new())
    });
}
