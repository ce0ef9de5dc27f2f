//! Output files that are never torn and never destroy what was there.
//!
//! Every file pktscript writes (the shell tools' outputs, `write_pcap`,
//! `write_text`, `rewrite_pcap`, `pcap_writer`, `recv -w`) goes through an
//! [`AtomicFile`]: the bytes go to a new temporary file beside the target
//! (same directory, unique name, created exclusively so no planted link is
//! followed), which [`AtomicFile::commit`] syncs to disk and renames over
//! the target. Until then the target keeps exactly what it had; an error,
//! or dropping the `AtomicFile`, removes the temporary file.
//!
//! Targets that are not regular files (`/dev/null`, `/dev/stdout`, a FIFO,
//! a terminal) cannot be replaced by a rename: they are written directly.
//!
//! The second half of this module is how a job learns that it was asked to
//! stop: [`catch_signals`] installs a SIGINT and SIGTERM handler that only
//! sets a flag ([`STOP`]), which long loops poll ([`interrupted`]) so that
//! they end between two records, finish their outputs (streams commit what
//! they hold, offline jobs leave the old file) and exit with
//! [`exit_status`] (128 + the signal: 130, 143). The handler is reset after
//! its first signal, so a second Ctrl-C ends the process at once (the
//! target is then untouched and the temporary file stays).

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

/// A file written under a temporary name and renamed over its target by
/// [`commit`](AtomicFile::commit). Dropped without a commit (an error, an
/// early return, a panic), it removes the temporary file and leaves the
/// target as it was.
#[derive(Debug)]
pub struct AtomicFile {
    /// `None` once committed or aborted.
    file: Option<File>,
    /// The temporary file; `None` when the target is written directly.
    temp: Option<PathBuf>,
    /// The file the rename replaces (symbolic links followed).
    target: PathBuf,
    /// The name the caller gave, for messages.
    name: String,
}

impl AtomicFile {
    /// Starts writing `path`: creates the temporary file beside it (or, for
    /// a target that is not a regular file, opens the target itself).
    /// Nothing happens to `path` until [`commit`](AtomicFile::commit).
    pub fn create(path: impl AsRef<Path>) -> io::Result<AtomicFile> {
        let path = path.as_ref();
        let name = path.display().to_string();
        if writes_directly(path) {
            let file = File::create(path)?;
            return Ok(AtomicFile {
                file: Some(file),
                temp: None,
                target: path.to_path_buf(),
                name,
            });
        }
        let target = resolve_links(path);
        let old = std::fs::metadata(&target).ok();
        let (file, temp) = create_temp(&target)?;
        // The new file takes the old one's permissions (and, for root, its
        // owner), as an editor that saves by rename does.
        if let Some(m) = old {
            let _ = file.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777));
            if m.uid() != unsafe_geteuid() {
                let _ = std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid()));
            }
        }
        Ok(AtomicFile {
            file: Some(file),
            temp: Some(temp),
            target,
            name,
        })
    }

    /// The name given to [`create`](AtomicFile::create).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the bytes go until the commit (`None` when the target is
    /// written directly).
    pub fn temp_path(&self) -> Option<&Path> {
        self.temp.as_deref()
    }

    /// Makes the written bytes the target's content: syncs the temporary
    /// file to disk, renames it over the target, syncs the directory. On an
    /// error the temporary file is removed and the target keeps its old
    /// content.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        file.flush()?;
        let Some(temp) = self.temp.take() else {
            // A device or a FIFO: nothing to sync or rename.
            return Ok(());
        };
        let done = file
            .sync_all()
            .and_then(|()| std::fs::rename(&temp, &self.target));
        drop(file);
        if let Err(e) = done {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        // The rename itself reaches the disk with the directory.
        if let Some(dir) = parent_dir(&self.target)
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Gives up: removes the temporary file; the target keeps its content.
    pub fn abort(mut self) {
        self.discard();
    }

    fn discard(&mut self) {
        self.file = None;
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file.as_mut().ok_or_else(|| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the output is already finished")
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Where an output goes: a file (replaced on [`finish`](Output::finish)) or
/// a stream such as standard output (flushed).
pub enum Output {
    File(AtomicFile),
    Stream(Box<dyn Write + Send>),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::File(a) => f.debug_tuple("File").field(a).finish(),
            Output::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl Output {
    /// Completes the output: commits a file, flushes a stream.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Output::File(f) => f.commit(),
            Output::Stream(mut s) => s.flush(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(f) => f.write(buf),
            Output::Stream(s) => s.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::File(f) => f.write_all(buf),
            Output::Stream(s) => s.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(f) => f.flush(),
            Output::Stream(s) => s.flush(),
        }
    }
}

/// Completes a buffered output: flushes the buffer, then
/// [`Output::finish`]. On an error a file's target keeps its old content.
pub fn finish_buffered(w: io::BufWriter<Output>) -> io::Result<()> {
    match w.into_inner() {
        Ok(out) => out.finish(),
        Err(e) => Err(e.into_error()),
    }
}

/// Whether `path` is written in place: an existing file that is not a
/// regular file (a device, a FIFO, a socket, a directory, which then fails
/// to open), or a name under /dev or /proc (`/dev/stdout` leads through
/// /proc/self/fd to whatever standard output is).
fn writes_directly(path: &Path) -> bool {
    if (path.starts_with("/dev") && !path.starts_with("/dev/shm")) || path.starts_with("/proc") {
        return true;
    }
    std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// `path` with its symbolic links followed (the file a rename must
/// replace, so that a link keeps pointing at the new content); a dangling
/// link gives the path it points to. Stops after 40 links, as the kernel.
fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&p) {
            Ok(next) => {
                p = if next.is_absolute() {
                    next
                } else {
                    parent_dir(&p).unwrap_or(Path::new(".")).join(next)
                };
            }
            Err(_) => break,
        }
    }
    p
}

/// The directory holding `p` (`.` for a bare name).
fn parent_dir(p: &Path) -> Option<&Path> {
    match p.parent() {
        Some(d) if d.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    }
}

/// Creates `.NAME.pktscript-PID-N.tmp` beside `target`, exclusively
/// (`O_EXCL` refuses an existing name, a symbolic link included).
fn create_temp(target: &Path) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = parent_dir(target).unwrap_or(Path::new("."));
    let base = target.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the output path names no file (it ends in `..` or `/`)",
        )
    })?;
    // Room for the decoration within a file name's 255 bytes.
    let mut stem = base.as_bytes().to_vec();
    stem.truncate(200);
    let stem = OsString::from_vec(stem);
    let mut last = None;
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = OsString::from(".");
        name.push(&stem);
        name.push(format!(".pktscript-{}-{n}.tmp", std::process::id()));
        let temp = dir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)
        {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create a file in {} ({e}); outputs are written beside their target, then renamed over it",
                        dir.display()
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

/// Set by SIGINT or SIGTERM once [`catch_signals`] ran: long jobs stop at
/// the next record (or script operation).
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The signal that set [`STOP`] (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    let _ = SIGNAL.compare_exchange(0, sig, Ordering::Relaxed, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
}

/// SIGINT and SIGTERM set [`STOP`] instead of ending the process, once: the
/// handler resets itself, so a second signal ends the process at once.
/// Interrupted system calls restart, as with `signal()`. A signal the
/// process started with ignored (SIGINT in a background job of a
/// non-interactive shell) stays ignored, as the C tools leave it.
pub fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to atomics, which is
        // async-signal-safe; the sigaction structs are zeroed, then filled.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART | libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The signal that asked the job to stop, if one did.
pub fn interrupted() -> Option<i32> {
    if STOP.load(Ordering::Relaxed) {
        Some(SIGNAL.load(Ordering::Relaxed)).filter(|&s| s != 0)
    } else {
        None
    }
}

/// The exit status of a job stopped by `sig`, as the shells report a
/// process killed by it: 128 + the signal (SIGINT 130, SIGTERM 143).
pub fn exit_status(sig: i32) -> u8 {
    u8::try_from(128 + sig).unwrap_or(255)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("pktscript-output-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_replaces_and_drop_keeps_the_old_file() {
        let d = dir("commit");
        let t = d.join("out.pcap");
        std::fs::write(&t, b"old").unwrap();
        let mut f = AtomicFile::create(&t).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"old");
        assert!(f.temp_path().unwrap().starts_with(&d));
        drop(f);
        assert_eq!(std::fs::read(&t).unwrap(), b"old");
        assert_eq!(entries(&d), ["out.pcap"]);
        let mut f = AtomicFile::create(&t).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"new");
        assert_eq!(entries(&d), ["out.pcap"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn permissions_are_kept_and_links_followed() {
        let d = dir("links");
        let real = d.join("real.txt");
        std::fs::write(&real, b"old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = d.join("link.txt");
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        let mut f = AtomicFile::create(&link).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let mode = std::fs::metadata(&real).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn devices_are_written_in_place() {
        let mut f = AtomicFile::create("/dev/null").unwrap();
        assert!(f.temp_path().is_none());
        f.write_all(b"x").unwrap();
        f.commit().unwrap();
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        let mut f = AtomicFile::create("/dev/full").unwrap();
        let _ = f.write_all(b"x");
        let mut b = io::BufWriter::new(Output::File(f));
        b.write_all(b"y").unwrap();
        assert!(finish_buffered(b).is_err());
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let d = dir("missing");
        assert!(AtomicFile::create(d.join("no/such/dir/x.pcap")).is_err());
        assert!(AtomicFile::create(d.join("..")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
