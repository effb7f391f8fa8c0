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
