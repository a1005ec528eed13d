//! Recording proof, the media checker (src/verify): files made by ffmpeg at test time, read
//! through the OpenDAL reader from a temp dir, measured by recmon and by ffprobe; the
//! durations must agree within 0.1 s and each file must get its verdict.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use recmon::verify::location::{Location, Store, Target};
use recmon::verify::media::{self, Container, Probe, Problem, ReadError, MAX_READ};
use recmon::verify::reader::{self, Credentials, DEFAULT_TIMEOUT};
use recmon::verify::verdict::{judge, Expect, Verdict};

/// True when ffmpeg and ffprobe are here; else skips loudly (fails under CI).
fn have_ffmpeg() -> bool {
    let ok = |tool: &str| {
        Command::new(tool)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ok("ffmpeg") && ok("ffprobe") {
        true
    } else {
        common::skip_unless_ci("ffmpeg and ffprobe are needed to make and measure media");
        false
    }
}

/// Runs ffmpeg with these arguments (after `-v error -y`); panics on failure.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ffprobe's format duration, or None when ffprobe cannot tell one.
fn ffprobe_duration(path: &Path) -> Option<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The inputs: a 25 fps test pattern and a 440 Hz tone, `secs` long.
fn sources(secs: &str) -> Vec<String> {
    [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        secs,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Makes `name` in `dir` from the test sources with these output options.
fn make(dir: &Path, name: &str, secs: &str, opts: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut args = sources(secs);
    args.extend(opts.iter().map(|s| s.to_string()));
    args.push(path.to_str().unwrap().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ffmpeg(&args);
    path
}

const H264_AAC: &[&str] = &[
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    "50",
    "-c:a",
    "aac",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Probes `path` through the OpenDAL reader (the fs service, as `file:///DIR` reads).
fn probe(path: &Path) -> Result<Probe, ReadError> {
    let dir = path.parent().unwrap().to_path_buf();
    let name = path.file_name().unwrap().to_str().unwrap();
    let target = Location::File(dir).target(name, &[]).unwrap();
    runtime().block_on(async {
        let mut src = reader::open(&target, &Credentials::default(), DEFAULT_TIMEOUT).await?;
        media::probe(&mut src, name).await
    })
}

/// Probes `path`, compares with ffprobe and returns the probe, the verdict against
/// ffprobe's duration as the claimed one, and ffprobe's duration.
fn check(path: &Path) -> (Probe, Verdict, Option<f64>) {
    let want = ffprobe_duration(path);
    let result = probe(path);
    let p = result.clone().expect("the file is readable");
    let verdict = judge(&result, want, Expect::default());
    eprintln!(
        "{}: recmon {:?} ffprobe {:?}, {} bytes read of {}, {verdict}, {:?}",
        path.file_name().unwrap().to_string_lossy(),
        p.duration_s,
        want,
        p.bytes_read,
        p.size,
        p.problems
    );
    if let (Some(got), Some(want)) = (p.duration_s, want) {
        assert!(
            (got - want).abs() <= 0.1,
            "{}: recmon measured {got} s, ffprobe {want} s",
            path.display()
        );
    }
    assert!(p.bytes_read <= MAX_READ);
    (p, verdict, want)
}

fn assert_ok(path: &Path, container: Container) -> Probe {
    let (p, verdict, want) = check(path);
    assert!(want.is_some(), "ffprobe measures {}", path.display());
    assert!(p.duration_s.is_some(), "recmon measures {}", path.display());
    assert_eq!(p.container, Some(container), "{}", path.display());
    assert_eq!(verdict, Verdict::Ok, "{}: {p:?}", path.display());
    assert_eq!((p.has_audio, p.has_video), (Some(true), Some(true)));
    p
}

#[test]
fn flv_mp4_fmp4_ts_are_measured_like_ffprobe() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert_ok(&make(d, "a.flv", "5", H264_AAC), Container::Flv);
    assert_ok(&make(d, "a.ts", "5", H264_AAC), Container::MpegTs);
    let mut faststart = H264_AAC.to_vec();
    faststart.extend(["-movflags", "+faststart"]);
    assert_ok(&make(d, "first.mp4", "5", &faststart), Container::Mp4);
    assert_ok(&make(d, "last.mp4", "5", H264_AAC), Container::Mp4);
    let mut frag = H264_AAC.to_vec();
    frag.extend(["-movflags", "frag_keyframe+empty_moov+default_base_moof"]);
    assert_ok(&make(d, "frag.mp4", "5", &frag), Container::FragmentedMp4);
    // Longer ones, and other codecs (FLV's own video, MPEG-2 in TS).
    assert_ok(
        &make(d, "b.flv", "12.4", &["-c:v", "flv1", "-c:a", "mp3"]),
        Container::Flv,
    );
    assert_ok(
        &make(d, "b.ts", "9.6", &["-c:v", "mpeg2video", "-c:a", "mp2"]),
        Container::MpegTs,
    );
}

#[test]
fn hls_playlist_and_its_segments() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut opts = H264_AAC.to_vec();
    opts.extend(["-f", "hls", "-hls_time", "2", "-hls_list_size", "0"]);
    let m3u8 = make(d, "live.m3u8", "7", &opts);
    let (p, verdict, _) = check(&m3u8);
    assert_eq!(p.container, Some(Container::Hls));
    assert_eq!(verdict, Verdict::Ok);
    assert!(p.segments.len() >= 3, "{:?}", p.segments);
    let sum: f64 = p.segments.iter().map(|s| s.duration_s).sum();
    assert!((sum - p.duration_s.unwrap()).abs() < 1e-6);

    // Each segment is a transport stream measured like ffprobe does; together they are
    // the playlist's duration.
    let mut total = 0.0;
    for s in &p.segments {
        let seg = assert_ok(&d.join(&s.uri), Container::MpegTs);
        total += seg.duration_s.unwrap();
    }
    assert!((total - p.duration_s.unwrap()).abs() < 0.2, "{total}");

    // The reader tells which segments are missing.
    let uris: Vec<String> = p.segments.iter().map(|s| s.uri.clone()).collect();
    let rt = runtime();
    let target = Location::File(d.to_path_buf())
        .target("live.m3u8", &[])
        .unwrap();
    let missing = || {
        rt.block_on(async {
            let src = reader::open(&target, &Credentials::default(), DEFAULT_TIMEOUT)
                .await
                .unwrap();
            reader::missing_segments(src.operator(), "live.m3u8", &uris, 100, DEFAULT_TIMEOUT)
                .await
                .unwrap()
        })
    };
    assert_eq!(missing(), Vec::<String>::new());
    std::fs::remove_file(d.join(&uris[1])).unwrap();
    assert_eq!(missing(), vec![uris[1].clone()]);
}

#[test]
fn audio_only_and_video_only() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut audio = H264_AAC.to_vec();
    audio.push("-vn");
    let mut video = H264_AAC.to_vec();
    video.push("-an");
    for (name, container) in [
        ("audio.flv", Container::Flv),
        ("audio.mp4", Container::Mp4),
        ("audio.ts", Container::MpegTs),
    ] {
        let (p, verdict, _) = check(&make(d, name, "4", &audio));
        assert_eq!(p.container, Some(container));
        assert_eq!(
            (p.has_audio, p.has_video),
            (Some(true), Some(false)),
            "{name}"
        );
        assert_eq!(verdict, Verdict::NoVideo, "{name}");
    }
    for (name, container) in [
        ("video.flv", Container::Flv),
        ("video.mp4", Container::Mp4),
        ("video.ts", Container::MpegTs),
    ] {
        let (p, verdict, _) = check(&make(d, name, "4", &video));
        assert_eq!(p.container, Some(container));
        assert_eq!(
            (p.has_audio, p.has_video),
            (Some(false), Some(true)),
            "{name}"
        );
        assert_eq!(verdict, Verdict::NoAudio, "{name}");
    }
}

/// The first `len` bytes of `from`, written to `to`.
fn cut(from: &Path, to: &Path, len: usize) -> PathBuf {
    let data = std::fs::read(from).unwrap();
    std::fs::write(to, &data[..len.min(data.len())]).unwrap();
    to.to_path_buf()
}

#[test]
fn truncated_empty_and_header_only_files() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // An MP4 cut before its moov (the recorder died): broken; ffprobe cannot measure it
    // either.
    let mp4 = make(d, "whole.mp4", "5", H264_AAC);
    let size = std::fs::metadata(&mp4).unwrap().len() as usize;
    let cut_mp4 = cut(&mp4, &d.join("cut.mp4"), size * 6 / 10);
    let (p, verdict, want) = check(&cut_mp4);
    assert_eq!(verdict, Verdict::Broken);
    assert_eq!((p.duration_s, want), (None, None));
    assert!(p.problems.contains(&Problem::Truncated), "{:?}", p.problems);
    assert!(p.problems.contains(&Problem::NoMoov), "{:?}", p.problems);

    // A faststart MP4 cut in its mdat: the moov is there, but the samples it points at are
    // not: broken.
    let mut faststart = H264_AAC.to_vec();
    faststart.extend(["-movflags", "+faststart"]);
    let fs = make(d, "fs.mp4", "5", &faststart);
    let size = std::fs::metadata(&fs).unwrap().len() as usize;
    let (p, verdict, _) = check(&cut(&fs, &d.join("fs-cut.mp4"), size / 2));
    assert_eq!(verdict, Verdict::Broken);
    assert!(p.problems.contains(&Problem::Truncated), "{:?}", p.problems);

    // 0 bytes: empty.
    let zero = d.join("zero.flv");
    std::fs::write(&zero, b"").unwrap();
    let (p, verdict, want) = check(&zero);
    assert_eq!((p.size, verdict, want), (0, Verdict::Empty, None));

    // An FLV with its header and no tag (a publisher that sent nothing): empty.
    let flv = make(d, "whole.flv", "5", H264_AAC);
    let (p, verdict, want) = check(&cut(&flv, &d.join("header.flv"), 13));
    assert_eq!(p.container, Some(Container::Flv));
    assert_eq!((verdict, p.duration_s, want), (Verdict::Empty, None, None));

    // An FLV cut inside a tag (a recorder killed mid-write): what precedes the cut is
    // measured (ffprobe trusts the metadata's duration here, so no comparison).
    let whole = std::fs::read(&flv).unwrap();
    let cut_flv = cut(&flv, &d.join("cut.flv"), whole.len() / 2 + 7);
    let p = probe(&cut_flv).unwrap();
    assert!(
        p.problems.contains(&Problem::PartialTail),
        "{:?}",
        p.problems
    );
    let got = p.duration_s.unwrap();
    assert!(got > 1.5 && got < 3.5, "half of 5 s, measured {got}");
    assert_eq!(
        judge(&Ok(p), Some(5.0), Expect::default()),
        Verdict::Short,
        "2.5 s of a claimed 5 s"
    );

    // Not a recording at all: broken.
    let junk = d.join("junk.mp4");
    std::fs::write(&junk, b"<html>404 not found</html>").unwrap();
    let (_, verdict, _) = check(&junk);
    assert_eq!(verdict, Verdict::Broken);

    // Not there at all: missing.
    let gone = probe(&d.join("gone.flv"));
    assert_eq!(gone, Err(ReadError::Missing));
    assert_eq!(judge(&gone, Some(5.0), Expect::default()), Verdict::Missing);
}

/// Big files cost what small ones do: at most 1 MiB read, whatever the size.
#[test]
fn big_files_read_at_most_one_mib() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let raw = ["-c:v", "rawvideo", "-pix_fmt", "rgb24", "-c:a", "pcm_s16le"];
    let mov = make(d, "big.mov", "40", &raw);
    let frag = d.join("bigfrag.mov");
    ffmpeg(&[
        "-i",
        mov.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "mov",
        "-movflags",
        "frag_keyframe+empty_moov",
        frag.to_str().unwrap(),
    ]);
    let noise = |name: &str, codecs: &[&str]| {
        let path = d.join(name);
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25,noise=alls=100:allf=t",
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=44100",
            "-t",
            "30",
            "-q:v",
            "1",
        ];
        args.extend_from_slice(codecs);
        args.push(path.to_str().unwrap());
        ffmpeg(&args);
        path
    };
    let ts = noise("big.ts", &["-c:v", "mpeg2video", "-c:a", "mp2"]);
    let flv = noise("big.flv", &["-c:v", "flv1", "-c:a", "mp3"]);
    for (path, container) in [
        (mov, Container::Mp4),
        (frag, Container::FragmentedMp4),
        (ts, Container::MpegTs),
        (flv, Container::Flv),
    ] {
        let (p, verdict, _) = check(&path);
        assert!(p.size > 50_000_000, "{}: {} bytes", path.display(), p.size);
        assert_eq!(p.container, Some(container));
        assert_eq!(verdict, Verdict::Ok, "{}: {p:?}", path.display());
        assert!(
            p.bytes_read <= MAX_READ,
            "{}: {} bytes read",
            path.display(),
            p.bytes_read
        );
    }
}

#[test]
fn store_targets_name_the_right_store() {
    // No ffmpeg needed: the local and file rules read through the fs service.
    let t = Location::Local.target("/tmp/x.flv", &[]).unwrap();
    assert_eq!(
        t,
        Target {
            store: Store::Fs("/".into()),
            path: "tmp/x.flv".into()
        }
    );
}

/// Real files cut anywhere and with bytes flipped: the checker returns (never panics, never
/// reads past its budget), whatever it finds.
#[test]
fn cut_and_corrupted_real_files_never_panic() {
    if !have_ffmpeg() {
        return;
    }
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut frag = H264_AAC.to_vec();
    frag.extend(["-movflags", "frag_keyframe+empty_moov"]);
    let mut faststart = H264_AAC.to_vec();
    faststart.extend(["-movflags", "+faststart"]);
    let files = [
        make(d, "h.flv", "2", H264_AAC),
        make(d, "h.mp4", "2", H264_AAC),
        make(d, "f.mp4", "2", &faststart),
        make(d, "g.mp4", "2", &frag),
        make(d, "h.ts", "2", H264_AAC),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(22);
    let run = |data: Vec<u8>| {
        let mut src = media::MemorySource { data };
        let p = runtime().block_on(media::probe(&mut src, "x")).unwrap();
        assert!(p.bytes_read <= MAX_READ);
        let _ = judge(&Ok(p), Some(2.0), Expect::default());
    };
    for f in &files {
        let whole = std::fs::read(f).unwrap();
        for i in 0..=64 {
            run(whole[..whole.len() * i / 64].to_vec());
        }
        for _ in 0..64 {
            let mut data = whole.clone();
            for _ in 0..rng.random_range(1..16) {
                let at = rng.random_range(0..data.len());
                data[at] = rng.random();
            }
            run(data);
        }
    }
}

/// The `s3s-fs` binary (a real S3-protocol server that checks SigV4 signatures; `.ci/run`
/// installs it), if it is here.
fn s3s_fs() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        dirs.push(Path::new(&cargo_home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
}

/// A running s3s-fs, killed when dropped.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_s3(bin: &Path, root: &Path, access: &str, secret: &str) -> S3Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", access, "--secret-key", secret])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs starts");
    let server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "s3s-fs did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server
}

/// Through a real S3-protocol server that checks request signatures: objects uploaded with
/// the right key are verified like local files; a missing key is `missing`; a wrong secret is
/// `unchecked: 403`, never `missing`, and the secret is in no result.
#[test]
fn s3_server_with_signatures() {
    if !have_ffmpeg() {
        return;
    }
    let Some(bin) = s3s_fs() else {
        common::skip_unless_ci("s3s-fs (cargo install s3s-fs --features binary) is not here");
        return;
    };
    const ACCESS: &str = "AKIDRECMONTEST";
    const SECRET: &str = "recmon-s3-secret-Zq8vX2";
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("s3");
    std::fs::create_dir_all(root.join("recordings")).unwrap();
    let server = start_s3(&bin, &root, ACCESS, SECRET);
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let flv = make(&media, "a.flv", "5", H264_AAC);
    let want = ffprobe_duration(&flv).unwrap();

    let creds = |secret: &str| {
        let secret = secret.to_string();
        Credentials::from_lookup(move |k| match k {
            "AWS_ACCESS_KEY_ID" => Some(ACCESS.to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some(secret.clone()),
            _ => None,
        })
    };
    let rule = format!(
        "aliyun=s3://recordings/live?endpoint={}&region=us-east-1",
        server.endpoint
    );
    let rules = recmon::verify::location::Rules::parse(&[rule], &[]).unwrap();
    let loc = rules
        .for_file(recmon::event::Provider::Aliyun, "d.example.com")
        .unwrap()
        .clone();
    let rt = runtime();
    let right = creds(SECRET);
    let check_key = |key: &str, creds: &Credentials| {
        let target = loc.target(key, &[]).unwrap();
        rt.block_on(async {
            let mut src = reader::open(&target, creds, DEFAULT_TIMEOUT).await?;
            media::probe(&mut src, key).await
        })
    };

    // Upload through the S3 protocol, signed.
    let target = loc.target("app/stream/0.flv", &[]).unwrap();
    assert_eq!(target.path, "live/app/stream/0.flv");
    let op = reader::operator(&target.store, &right).unwrap();
    let bytes = std::fs::read(&flv).unwrap();
    rt.block_on(op.write(&target.path, bytes)).expect("upload");

    let ok = check_key("app/stream/0.flv", &right);
    let p = ok.clone().unwrap();
    assert_eq!(p.container, Some(Container::Flv));
    assert!(
        (p.duration_s.unwrap() - want).abs() <= 0.1,
        "{p:?} vs {want}"
    );
    assert_eq!(judge(&ok, Some(want), Expect::default()), Verdict::Ok);

    let missing = check_key("app/stream/never.flv", &right);
    assert_eq!(missing, Err(ReadError::Missing));
    assert_eq!(
        judge(&missing, Some(5.0), Expect::default()).to_string(),
        "missing"
    );

    // A wrong secret: the server refuses the signature. That is recmon's fault, not the
    // recording's, for a file that exists and for one that does not alike.
    let wrong = creds("not-the-secret");
    for key in ["app/stream/0.flv", "app/stream/never.flv"] {
        let r = check_key(key, &wrong);
        let v = judge(&r, Some(5.0), Expect::default());
        assert_eq!(v.to_string(), "unchecked: 403", "{key}: {r:?}");
        assert!(!v.is_failure());
        let shown = format!(
            "{r:?} {v} {} {:?}",
            serde_json::to_string(&v).unwrap(),
            wrong
        );
        assert!(!shown.contains(SECRET) && !shown.contains("not-the-secret"));
    }
    drop(server);
}
