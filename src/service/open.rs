//! Opening the journal for writing (its lock, and refusals that say what to do instead), and
//! the hint of a free port.

use super::*;

/// The folder a journal path names that does not exist, when that is why opening it failed:
/// "No such file or directory" alone reads as if the journal itself had to exist.
pub(super) fn missing_folder<'a>(path: &'a Path, e: &std::io::Error) -> Option<&'a Path> {
    if e.kind() != std::io::ErrorKind::NotFound {
        return None;
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    (!folder.exists()).then_some(folder)
}

/// The folder a new journal could not be created in for want of permission (or on a
/// read-only file system), named in full: "Permission denied" alone does not say which.
pub(super) fn unwritable_folder(path: &Path, e: &std::io::Error) -> Option<PathBuf> {
    let denied = e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(30);
    if !denied || std::fs::symlink_metadata(path).is_ok() {
        return None;
    }
    let folder = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(f) => f.to_path_buf(),
        None => PathBuf::from("."),
    };
    Some(std::fs::canonicalize(&folder).unwrap_or(folder))
}

/// Why an existing file is not a recmon journal (its first line's reason), or `None` when it
/// is one (a journal line comes before the end; read no further than it) or is not readable
/// (the open reports that).
pub(super) fn not_a_journal_line(path: &Path) -> Option<String> {
    let mut first = None;
    for item in JournalReader::open(path).ok()? {
        match item.ok()? {
            ReadItem::Entry(_) | ReadItem::Delivery(_) => return None,
            damaged => {
                if first.is_none() {
                    first = crate::core::rebuild::problem_text(&damaged);
                }
            }
        }
    }
    first
}

/// The first port after `port` that `ip` can listen on now (a probe: bound and let go), for
/// the hint of a port in use.
pub(super) fn free_port_after(ip: std::net::IpAddr, port: u16) -> Option<u16> {
    (port.saturating_add(1)..=port.saturating_add(100))
        .filter(|p| *p != port)
        .find(|p| std::net::TcpListener::bind((ip, *p)).is_ok())
}

/// Opens the journal for writing and takes its lock, before anything is read or written:
/// a second writer is refused with the first one's pid, a directory is refused with a file
/// name to use inside it, and with `--journal` an earlier session's journal is refused with
/// the `--resume` that continues it. Nothing is written here.
///
/// `--resume` of a path where no file exists yet creates it (and says so), so that one
/// command line works on a service's first start and on every restart; the flag in the
/// returned pair is then true and there is nothing to rebuild.
pub(super) fn take_journal(path: &Path, resuming: bool) -> Result<(LockedJournal, bool), AppError> {
    let flag = if resuming { "--resume" } else { "--journal" };
    let starting = resuming && std::fs::symlink_metadata(path).is_err();
    if path.is_dir() {
        let inside = path.join(default_path(Utc::now()));
        return Err(AppError::new(
            2,
            if resuming {
                format!(
                    "--resume {} is a directory; it takes the journal file to continue, e.g. --resume {}",
                    path.display(),
                    path.join("recmon-YYYYmmdd-HHMMSS.jsonl").display()
                )
            } else {
                format!(
                    "--journal {} is a directory; the journal is a file. To keep it in that directory, use --journal {}",
                    path.display(),
                    inside.display()
                )
            },
        ));
    }
    let locked = LockedJournal::open(path, !resuming || starting).map_err(|e| match e {
        OpenError::Locked { pid } => AppError::new(
            1,
            format!(
                "the journal {} is in use: {}. Two writers would mix their lines and repeat seq numbers. Stop {} first, or give this recmon its own file with --journal NEW.jsonl",
                path.display(),
                OpenError::Locked { pid },
                pid.map_or_else(|| "it".to_string(), |p| format!("it (kill {p})")),
            ),
        ),
        OpenError::Io(e) if starting => AppError::new(
            1,
            match missing_folder(path, &e) {
                Some(folder) => format!(
                    "cannot start the journal {} for --resume (there is none yet): the folder {} does not exist. Create it first (mkdir -p {}), or pick another path",
                    path.display(),
                    folder.display(),
                    folder.display()
                ),
                None => format!(
                    "cannot start the journal {} for --resume (there is none yet): {e}. Pick a writable path",
                    path.display()
                ),
            },
        ),
        OpenError::Io(e) if resuming => AppError::new(
            1,
            format!(
                "cannot resume from {}: {e}. Expected an existing recmon journal; to start a new one use --journal PATH",
                path.display()
            ),
        ),
        OpenError::Io(e) if unwritable_folder(path, &e).is_some() => AppError::new(
            1,
            format!(
                "cannot create the journal {}: the folder {} is not writable ({e}). Pick a folder you can write to with {flag}, or run with --no-journal",
                path.display(),
                unwritable_folder(path, &e).unwrap_or_default().display()
            ),
        ),
        OpenError::Io(e) => AppError::new(
            1,
            match missing_folder(path, &e) {
                Some(folder) => format!(
                    "cannot open the journal {}: the folder {} does not exist. Create it first (mkdir -p {}), or pick another path with {flag}",
                    path.display(),
                    folder.display(),
                    folder.display()
                ),
                None => format!(
                    "cannot open the journal {}: {e}. Pick a writable path with {flag}, or run with --no-journal",
                    path.display()
                ),
            },
        ),
    })?;
    if !resuming {
        // Appending to an old journal without rebuilding its state would restart seq at 1
        // and leave the journal and the state disagreeing.
        let len = locked.len().unwrap_or(0);
        if len > 0 {
            if let Some(why) = not_a_journal_line(path) {
                // Not a journal: --resume would refuse it too, so do not suggest it.
                let name = default_path(Utc::now());
                let new = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    Some(folder) => folder.join(name),
                    None => name,
                };
                return Err(AppError::new(
                    2,
                    format!(
                        "--journal {} is an existing file that is not a recmon journal ({}); recmon writes only to a new or empty file, and leaves this one untouched. Give the journal a path of its own, e.g. --journal {}",
                        path.display(),
                        crate::util::sanitize::terminal(&why, 200),
                        new.display()
                    ),
                ));
            }
            return Err(AppError::new(
                2,
                format!(
                    "the journal {} already holds {} from an earlier session. Continue it with --resume {} (rebuilds the state, continues its seq), or pick a new path with --journal",
                    path.display(),
                    count(len, "byte", "bytes"),
                    path.display()
                ),
            ));
        }
    }
    if starting {
        crate::util::output::eline(&format!(
            "recmon: --resume {}: no journal there yet, so a new one is started; restarting with the same command continues it",
            path.display()
        ));
    }
    Ok((locked, starting))
}
