//! `verify`: recording proof (`--verify`). Bytes read to check a file, for a small and a big
//! file of the same kind; verdicts per second from local files (`recmon verify`); ingest with
//! the verifier on against off.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::ab::{ab_row, req_s, Ab, Bound, Judge};
use super::harness::free_port;
use super::report::{Row, Verdict};
use super::{median, Suite};

/// An FLV with audio and video of about `mb` MB: a 10 MB one made by ffmpeg, then (for a
/// bigger one) that file concatenated with itself (stream copy), so both are the same kind of
/// file.
fn flv(dir: &Path, mb: u64) -> Result<PathBuf, String> {
    let small = dir.join("small.flv");
    if !small.exists() {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            // Noise: it does not compress, so 20 s at 4 Mbit/s is about 10 MB.
            .arg("nullsrc=size=320x240:rate=25:duration=20,geq=random(1)*255:128:128")
            .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=20"])
            .args([
                "-c:v", "flv1", "-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "1M",
            ])
            .args(["-c:a", "aac", "-shortest"])
            .arg(&small)
            .output()
            .map_err(|e| format!("ffmpeg: {e}"))?;
        if !out.status.success() {
            return Err(format!("ffmpeg: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    let size = std::fs::metadata(&small).map_err(|e| e.to_string())?.len();
    let loops = (mb * 1_000_000).div_ceil(size.max(1)).max(1);
    if loops <= 1 {
        return Ok(small);
    }
    let big = dir.join(format!("big-{mb}.flv"));
    // The concat demuxer over the same file `loops` times, stream copy: continuous timestamps.
    let list = dir.join(format!("big-{mb}.txt"));
    let line = format!("file '{}'\n", small.display());
    std::fs::write(&list, line.repeat(loops as usize)).map_err(|e| e.to_string())?;
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i"])
        .arg(&list)
        .args(["-c", "copy"])
        .arg(&big)
        .output()
        .map_err(|e| format!("ffmpeg: {e}"))?;
    if !out.status.success() {
        return Err(format!("ffmpeg: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(big)
}

/// Bytes the checker reads for one local file, and its measured duration.
fn bytes_read(file: &Path) -> Result<(u64, f64, u64), String> {
    use recmon::verify::location::{Store, Target};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let target = Target {
            store: Store::Fs(file.parent().unwrap().to_path_buf()),
            path: file.file_name().unwrap().to_string_lossy().into_owned(),
        };
        let creds = recmon::verify::reader::Credentials::default();
        let mut src =
            recmon::verify::reader::open(&target, &creds, recmon::verify::reader::DEFAULT_TIMEOUT)
                .await
                .map_err(|e| format!("{e:?}"))?;
        let p = recmon::verify::media::probe(&mut src, &target.path)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok((p.bytes_read, p.duration_s.unwrap_or(-1.0), p.size))
    })
}

fn not_measured(what: &str, why: &str) -> Row {
    Row {
        what: what.into(),
        value: "-".into(),
        baseline: "-".into(),
        ratio: "-".into(),
        target: "-".into(),
        verdict: Verdict::NotMeasured(why.into()),
        raw: why.into(),
    }
}

impl Suite {
    /// Recording proof: bytes read per file (a small and a big file of the same kind, the
    /// checker in this process); verdicts per second (`recmon verify` over a journal of local
    /// files, against reading each file's first and last 64 KiB); ingest with `--verify` on
    /// against off, A B A B.
    pub fn verify(&mut self) {
        let smoke = self.size.big < 100_000;
        let dir = self.work.path().join("verify");
        let _ = std::fs::create_dir_all(&dir);
        let big_mb = if smoke { 100 } else { 1000 };
        match flv(&dir, 10).and_then(|small| Ok((small.clone(), flv(&dir, big_mb)?))) {
            Err(e) => self.rows.push(not_measured(
                "Verify: bytes read per file",
                &format!("could not make the files: {e}"),
            )),
            Ok((small, big)) => match (bytes_read(&small), bytes_read(&big)) {
                (Ok((s_read, s_dur, s_size)), Ok((b_read, b_dur, b_size))) => {
                    let ratio = b_read as f64 / s_read.max(1) as f64;
                    self.rows.push(Row {
                        what: format!(
                            "Verify: bytes read per file, {} MB against {} MB (FLV)",
                            b_size / 1_000_000,
                            s_size / 1_000_000
                        ),
                        value: format!("{} bytes", b_read),
                        baseline: format!("{} bytes ({} MB file)", s_read, s_size / 1_000_000),
                        ratio: format!("{ratio:.2}×"),
                        target: "ratio ≈ 1 (≤ 1.5×), each ≤ 1 MiB".into(),
                        verdict: Verdict::of(
                            ratio <= 1.5 && b_read <= 1 << 20 && s_read <= 1 << 20,
                        ),
                        raw: format!(
                            "measured durations: {s_dur:.3} s ({s_size} bytes) and {b_dur:.3} s ({b_size} bytes); the big file is the small one concatenated with itself (stream copy)"
                        ),
                    });
                }
                (a, b) => self.rows.push(not_measured(
                    "Verify: bytes read per file",
                    &format!("{:?} {:?}", a.err(), b.err()),
                )),
            },
        }
        self.verdicts_per_second(&dir, if smoke { 200 } else { 2000 });
        self.ingest_with_verify(&dir);
    }

    /// `recmon verify` over `n` recordings of local 10 MB files (hard links of one file).
    fn verdicts_per_second(&mut self, dir: &Path, n: usize) {
        let what = "Verify: verdicts per second, local files (recmon verify)";
        let small = dir.join("small.flv");
        let files = dir.join("files");
        let _ = std::fs::create_dir_all(&files);
        for i in 0..n {
            let f = files.join(format!("f{i}.flv"));
            if !f.exists() && std::fs::hard_link(&small, &f).is_err() {
                let _ = std::fs::copy(&small, &f);
            }
        }
        // A journal with one accepted recording per file, written by a real receiver.
        let journal = dir.join("verify.jsonl");
        let _ = std::fs::remove_file(&journal);
        let port = free_port();
        let r = self.spawn_recmon(
            port,
            &["--fsync", "never", "--journal", journal.to_str().unwrap()],
        );
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        for i in 0..n {
            super::harness::post(
                addr,
                &format!(
                    r#"{{"domain":"d.example","app":"live","stream":"s{}","uri":"f{i}.flv","duration":20,"start_time":1,"stop_time":21}}"#,
                    i % 50
                ),
            );
        }
        drop(r);
        let rule = format!("file://{}", files.display());
        let mut took = Vec::new();
        let mut floor = Vec::new();
        let mut bad = None;
        for _ in 0..3 {
            let t0 = Instant::now();
            let out = Command::new(self.recmon())
                .args([
                    "verify",
                    journal.to_str().unwrap(),
                    "--verify",
                    &rule,
                    "--json",
                ])
                .stderr(Stdio::piped())
                .output();
            took.push(t0.elapsed().as_secs_f64());
            match out {
                Ok(o) if o.status.success() => {
                    let lines = o.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty());
                    let ok = lines
                        .filter(|l| {
                            std::str::from_utf8(l).is_ok_and(|l| l.contains(r#""verdict":"ok""#))
                        })
                        .count();
                    if ok != n {
                        bad = Some(format!("{ok} of {n} files ok"));
                    }
                }
                Ok(o) => bad = Some(String::from_utf8_lossy(&o.stderr).into_owned()),
                Err(e) => bad = Some(e.to_string()),
            }
            // The floor: reading each file's first and last 64 KiB, nothing else.
            let t0 = Instant::now();
            for i in 0..n {
                use std::io::{Read, Seek, SeekFrom};
                if let Ok(mut f) = std::fs::File::open(files.join(format!("f{i}.flv"))) {
                    let mut buf = vec![0u8; 64 * 1024];
                    let _ = f.read(&mut buf);
                    let _ = f.seek(SeekFrom::End(-(64 * 1024)));
                    let _ = f.read(&mut buf);
                }
            }
            floor.push(t0.elapsed().as_secs_f64());
        }
        let (t, f) = (median(&mut took.clone()), median(&mut floor.clone()));
        let rate = n as f64 / t;
        match bad {
            Some(e) => self.rows.push(not_measured(what, &e)),
            None => self.rows.push(Row {
                what: what.into(),
                value: format!("{rate:.0} verdicts/s"),
                baseline: format!("{:.0} files/s (reading 2 × 64 KiB of each)", n as f64 / f),
                ratio: format!("{:.2}×", rate / (n as f64 / f)),
                target: "≥ 1,000 verdicts/s".into(),
                verdict: Verdict::of(rate >= 1000.0),
                raw: format!(
                    "{n} recordings of 10 MB FLV files (hard links of one), `recmon verify JOURNAL --verify file://DIR --json`, whole process from start to exit: {took:.3?} s; floor {floor:.4?} s"
                ),
            }),
        }
    }

    /// Ingest with `--verify` on (every recording checked: a rule on an empty directory and
    /// `--verify-missing-for 0s`, so each is one lookup and one verdict line) against off.
    fn ingest_with_verify(&mut self, dir: &Path) {
        let empty = dir.join("empty");
        let _ = std::fs::create_dir_all(&empty);
        let rule = format!("file://{}", empty.display());
        let (mut on, mut off) = (vec![], vec![]);
        let mut invalid = None;
        for round in 0..3 {
            for (verify, into) in [(false, &mut off), (true, &mut on)] {
                let port = free_port();
                let journal = self
                    .work
                    .path()
                    .join(format!("verify-{verify}-{round}.jsonl"));
                let mut args = vec!["--fsync", "never", "--journal", journal.to_str().unwrap()];
                if verify {
                    args.extend(["--verify", &rule, "--verify-missing-for", "0s"]);
                }
                let r = self.spawn_recmon(port, &args);
                match self.rps_of(port, true) {
                    Ok(v) => into.push(v),
                    Err(e) => invalid = Some(e),
                }
                drop(r);
                let _ = std::fs::remove_file(&journal);
            }
        }
        self.rows.push(ab_row(Ab {
            what: "Verify: ingest with --verify on, --fsync never".into(),
            baseline: &off,
            recmon: &on,
            show: req_s,
            baseline_is: "without --verify",
            recmon_is: None,
            decimals: 3,
            baseline_floor: None,
            target: "≥ 0.95× (median)".into(),
            judge: Judge::Median(Bound::AtLeast(0.95)),
            invalid,
            raw: format!(
                "with --verify {on:.0?} req/s, without {off:.0?} req/s (3 rounds, A B A B, {} unique recordings over 32 connections; each recording looked up once in an empty directory and given a verdict line)",
                self.size.requests
            ),
        }));
    }
}
