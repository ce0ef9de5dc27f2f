//! Inputs the fuzz targets (fuzz/, docs/testing.md "Fuzzing") found to
//! crash or to break an invariant, fed to the same API the target feeds:
//! each must now pass. A new finding adds a test here with its input and
//! the target that found it.

use pktscript::filter;

/// Whether the kernel's classic BPF checker accepts `prog`: SO_ATTACH_FILTER
/// on an unprivileged UDP socket runs it.
fn kernel_accepts(prog: &[filter::Insn]) -> bool {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    let filters = filter::to_sock_filters(prog);
    let fprog = libc::sock_fprog {
        len: filters.len() as u16,
        filter: filters.as_ptr() as *mut libc::sock_filter,
    };
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog as *const libc::sock_fprog as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    unsafe { libc::close(fd) };
    rc == 0
}

/// fuzz target `bpf`: `len < -(--len >> tcp-cwr)` (link type 276) compiled
/// to `rsh #128`, which the kernel's checker refuses (a constant shift must
/// be below 32), so the program could not be attached to a live socket.
/// libpcap refuses the expression: "shift by more than 31 bits".
#[test]
fn constant_shift_of_32_or_more_is_refused() {
    let src = "len < -(--len >> tcp-cwr)";
    for linktype in [1, 276] {
        let e = filter::compile_for(src, linktype).unwrap_err();
        assert_eq!(e.message, "shift by more than 31 bits");
        assert_eq!(e.offset, src.find("tcp-cwr").unwrap());
    }
    for src in [
        "len >> 32 = 0",
        "ip[0] << 40 = 0",
        "len >> 0x20 = 1",
        "tcp[0] << tcp-urg != 0",
    ] {
        let e = filter::compile(src).unwrap_err();
        assert_eq!(e.message, "shift by more than 31 bits", "{src}");
    }
    // Up to 31 compiles, and the kernel takes the program.
    for src in ["len >> 31 = 0", "ip[0] << 31 = 0", "tcp[0] << tcp-ack != 0"] {
        let prog = filter::compile(src).unwrap();
        assert!(kernel_accepts(&prog), "{src}");
    }
}
