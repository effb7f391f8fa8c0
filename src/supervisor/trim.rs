//! Keeping the supervisor small in memory. It is the whole skiff binary
//! re-executed, and the kernel maps file pages around every fault (64 KiB),
//! so starting a container leaves megabytes of code and read-only data
//! mapped that the event loop never runs again. Those pages are clean and
//! shared with the page cache: dropping our mappings of them frees nothing
//! of value, and only the pages the loop touches come back.
#![allow(unsafe_code)]

use std::time::Duration;

/// How long after the start the supervisor trims itself: long enough that a
/// short command is reaped first, short enough to be settled when anyone looks.
pub const DELAY: Duration = Duration::from_millis(500);

/// Gives back what starting the container left behind: the heap pages
/// that starting freed (parsed records, the OCI spec, the seccomp program:
/// glibc keeps freed memory mapped and resident, below its trim threshold)
/// and the mappings of clean file pages (`release_clean_file_pages`).
pub fn release_startup_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap memory to the kernel
    // (MADV_DONTNEED on whole free pages, a lower break); no allocation in
    // use is touched, and this process has a single thread.
    unsafe {
        libc::malloc_trim(0);
    }
    release_clean_file_pages();
}

/// Drops the mappings of clean, read-only file-backed regions (code and
/// constants of the binary and its libraries). Regions that hold private
/// (copied-on-write) pages or are writable are left alone. The regions are
/// found first and released together at the end, so that the code reading
/// /proc/self/smaps does not fault back in what was just released.
pub fn release_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let regions = clean_file_regions(&smaps);
    drop(smaps);
    for &(start, end) in &regions {
        // SAFETY: the range is a whole read-only, file-backed private
        // mapping without anonymous pages; MADV_DONTNEED only drops its
        // page-table entries, and later accesses fault the same bytes back
        // in from the file. MADV_RANDOM only changes how many pages a fault
        // maps: one, instead of the 64 KiB around it, so that the little
        // code a sleeping loop runs does not bring its neighbours back.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// [`release_clean_file_pages`], then sleeps until one of the signals of
/// `set` (blocked by the caller) is pending, and takes it; returns it, or
/// None when the wait was interrupted. Used by the pod's infra process,
/// which sleeps for ever: the kernel maps 64 KiB around every page fault
/// on a file (fault-around, whatever `MADV_RANDOM` says), so every page of
/// code run between the release and the sleep would bring 16 back. Here
/// only this function's code and libc's `syscall` run in between: the
/// regions are released and the wait entered through raw system calls,
/// and nothing is freed before the wake-up.
pub fn release_clean_file_pages_and_wait(set: &nix::sys::signal::SigSet) -> Option<i32> {
    let regions = std::fs::read_to_string("/proc/self/smaps")
        .map(|smaps| clean_file_regions(&smaps))
        .unwrap_or_default();
    let sigset: &libc::sigset_t = set.as_ref();
    for &(start, end) in &regions {
        // SAFETY: as in `release_clean_file_pages`: a whole read-only,
        // file-backed private mapping without anonymous pages, whose
        // page-table entries are dropped and faulted back from the file.
        unsafe {
            libc::syscall(libc::SYS_madvise, start, end - start, libc::MADV_DONTNEED);
        }
    }
    // SAFETY: rt_sigtimedwait reads the kernel's 8-byte signal mask at the
    // start of a valid sigset_t; no siginfo is written (null) and there is
    // no timeout (null): it returns a pending signal of the set or -1.
    let sig = unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            sigset as *const libc::sigset_t,
            std::ptr::null_mut::<libc::siginfo_t>(),
            std::ptr::null::<libc::timespec>(),
            8usize,
        )
    };
    drop(regions);
    (sig > 0).then_some(sig as i32)
}

/// The (start, end) of every read-only, private, file-backed mapping in an
/// smaps text that holds no anonymous (copied-on-write) page.
fn clean_file_regions(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut region: Option<(usize, usize, bool)> = None;
    let mut anon = 0u64;
    let mut flush = |region: Option<(usize, usize, bool)>, anon: u64| {
        if let Some((start, end, true)) = region {
            if anon == 0 {
                out.push((start, end));
            }
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                flush(region.take(), anon);
                anon = 0;
                let perms = fields.next().unwrap_or("");
                let path = fields.nth(3).unwrap_or("");
                let eligible =
                    path.starts_with('/') && !perms.contains('w') && perms.ends_with('p');
                region = Some((start, end, eligible));
                continue;
            }
        }
        if first == "Anonymous:" {
            anon = fields.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        }
    }
    flush(region, anon);
    out
}
