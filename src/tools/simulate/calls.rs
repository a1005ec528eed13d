//! What each provider sends at each step of a broadcast: [`Generator`]'s calls for going
//! live, the broadcast's files, viewers and segments, and going offline, in ApsaraVideo
//! Live's, nginx-rtmp's, SRS's or Tencent Cloud's terms, each written by that provider's
//! `wire` module (`crate::providers::*::wire`). When they happen is the model's
//! ([`super::model`]).

use std::fmt::Write as _;

use rand::Rng;

use bytes::Bytes;

use super::model::{
    post, token, Generator, Pending, SimKind, SimRequest, ALNUM, HEX, ODD_DURATION_PERCENT,
    PLAYER_FLASHVER,
};
use crate::event::IngestAction;
use crate::providers::nginx_rtmp::wire::Conn;
use crate::providers::srs::wire::Hook;
use crate::providers::{aliyun, nginx_rtmp, tencent, Provider};

/// SRS's working directory, which `on_dvr` and `on_hls` send as `cwd`.
const SRS_CWD: &str = "/usr/local/srs";
/// The Tencent Cloud account (`appid`) the simulated events come from.
const TENCENT_APPID: i64 = 1_253_456_789;

impl Generator {
    /// A recording status event: ApsaraVideo's status callback, Tencent's `332`. nginx-rtmp
    /// and SRS send none.
    pub(super) fn status(&mut self, s: u32, at_ms: i64, kind: SimKind) {
        match self.params.provider {
            Provider::Aliyun => {
                let st = &self.streams[s as usize];
                let body = aliyun::wire::StatusBody {
                    domain: &st.domain,
                    app: &st.app,
                    stream: &st.name,
                    event: kind.as_str(),
                }
                .to_bytes();
                self.push(at_ms, Pending::Send(post(at_ms, s, kind, body)));
            }
            Provider::Tencent => {
                let event = match kind {
                    SimKind::RecordStarted => "record_start_succeeded",
                    other => other.as_str(),
                };
                let st = &self.streams[s as usize];
                let body = tencent::wire::RecordStatus {
                    appid: TENCENT_APPID,
                    domain: &st.domain,
                    app: &st.app,
                    stream: &st.name,
                    event_time: at_ms.div_euclid(1000),
                    record_event: event,
                    session_id: &st.extra.session,
                    task_id: &format!("{}-{}", st.extra.session, st.file_seq),
                }
                .to_bytes();
                self.send(at_ms, s, kind, body);
            }
            Provider::NginxRtmp | Provider::Srs => {}
        }
    }

    /// ApsaraVideo's ingest GET.
    fn ingest(&mut self, s: u32, at_ms: i64, kind: SimKind) {
        let st = &self.streams[s as usize];
        // The push URL's parameters, sent with the publish.
        let usrargs = (kind == SimKind::Publish).then(|| {
            let mut usrargs = format!("vhost={}", st.domain);
            for (k, v) in st.push_args.iter().flatten() {
                let _ = write!(usrargs, "&{k}={v}");
            }
            usrargs
        });
        let q = aliyun::wire::IngestQuery {
            action: if kind == SimKind::Publish {
                IngestAction::Publish
            } else {
                IngestAction::PublishDone
            },
            domain: &st.domain,
            app: &st.app,
            stream: &st.name,
            ip: &st.ip,
            node: &st.node,
            time: at_ms / 1000,
            usrargs: usrargs.as_deref(),
        }
        .to_query();
        let req = SimRequest {
            at_ms,
            stream: s,
            kind,
            method: "GET",
            query: Some(q),
            body: Bytes::new(),
            resend: 0,
            provider: Provider::Aliyun,
        };
        self.push(at_ms, Pending::Send(req));
    }

    /// Tencent's push (`1`) or push-cut (`0`) event.
    fn tencent_push(&mut self, s: u32, at_ms: i64, kind: SimKind) {
        let st = &self.streams[s as usize];
        let live = kind == SimKind::Publish;
        let body = tencent::wire::Push {
            appid: TENCENT_APPID,
            domain: &st.domain,
            app: &st.app,
            stream: &st.name,
            live,
            event_time: at_ms.div_euclid(1000),
            node: &st.node,
            sequence: &st.extra.sequence,
            stream_param: &st.extra.args,
            user_ip: &st.ip,
            push_duration_ms: (!live).then(|| (at_ms - st.extra.publish_ms).max(0)),
        }
        .to_bytes();
        self.send(at_ms, s, kind, body);
    }

    /// One nginx-rtmp call about stream `s` ([`nginx_rtmp::wire::Call`]): `pre` (`epoch` or
    /// `clientid`), the call, `post`, and the client's URL arguments when `args`.
    #[allow(clippy::too_many_arguments)]
    fn nginx_call(
        &mut self,
        s: u32,
        at_ms: i64,
        kind: SimKind,
        conn: &Conn,
        pre: &[(&str, String)],
        post_fields: &[(&str, String)],
        args: bool,
    ) {
        let st = &self.streams[s as usize];
        let call = match kind {
            SimKind::Recording => "record_done",
            other => other.as_str(),
        };
        let body = nginx_rtmp::wire::Call {
            app: &st.app,
            host: &st.domain,
            conn,
            pre,
            call,
            post: post_fields,
            with_args: args,
        }
        .to_bytes();
        self.send(at_ms, s, kind, body);
    }

    /// nginx-rtmp's `epoch` of a connection opened at `at_ms`: milliseconds of nginx's own
    /// clock, 32 bits.
    fn nginx_epoch(&self, at_ms: i64) -> String {
        ((at_ms - self.params.epoch * 1000 + 519_952).rem_euclid(1 << 32)).to_string()
    }

    /// The publisher's side of nginx-rtmp's calls about stream `s`.
    fn nginx_publisher(
        &mut self,
        s: u32,
        at_ms: i64,
        kind: SimKind,
        post_fields: &[(&str, String)],
    ) {
        let st = &self.streams[s as usize];
        let (addr, flashver, clientid, args) = (
            st.ip.clone(),
            st.extra.flashver,
            st.extra.client.clone(),
            st.extra.args.clone(),
        );
        let conn = Conn {
            addr: &addr,
            flashver,
            args: &args,
        };
        let name = self.streams[s as usize].name.clone();
        let pre = [("clientid", clientid.clone())];
        match kind {
            SimKind::Connect => {
                let pre = [("epoch", self.nginx_epoch(at_ms))];
                self.nginx_call(s, at_ms, kind, &conn, &pre, &[], false);
            }
            SimKind::Disconnect => {
                let app = self.streams[s as usize].app.clone();
                self.nginx_call(s, at_ms, kind, &conn, &pre, &[("app", app)], false);
            }
            // Calls that carry only the stream's name (publish_done, done) say so with none.
            _ if post_fields.is_empty() => {
                self.nginx_call(s, at_ms, kind, &conn, &pre, &[("name", name)], true);
            }
            _ => self.nginx_call(s, at_ms, kind, &conn, &pre, post_fields, true),
        }
    }

    /// One SRS hook about stream `s`, from the publisher (`client` = None) or a player.
    fn srs_hook(
        &mut self,
        s: u32,
        at_ms: i64,
        kind: SimKind,
        client: Option<(&str, &str)>,
        fill: impl FnOnce(&mut Hook),
    ) {
        let st = &self.streams[s as usize];
        let (client_id, ip) = client.unwrap_or((&st.extra.client, &st.ip));
        let tc_url = format!("rtmp://{}/{}", st.domain, st.app);
        let action = match kind {
            SimKind::Connect => "on_connect",
            SimKind::Publish => "on_publish",
            SimKind::PublishDone => "on_unpublish",
            SimKind::Play => "on_play",
            SimKind::PlayDone => "on_stop",
            SimKind::Recording => "on_dvr",
            SimKind::Segment => "on_hls",
            _ => "on_close",
        };
        let stream_hook = !matches!(kind, SimKind::Connect | SimKind::Disconnect);
        let mut hook = Hook {
            server_id: &self.server_id,
            service_id: &self.service_id,
            action,
            client_id,
            ip,
            vhost: &st.domain,
            app: &st.app,
            tc_url: (kind != SimKind::Disconnect).then_some(tc_url.as_str()),
            ..Hook::default()
        };
        if stream_hook {
            hook.stream = Some(&st.name);
            hook.param = Some(&st.extra.args);
            hook.stream_url = Some(format!("{}/{}/{}", st.domain, st.app, st.name));
            hook.stream_id = Some(&st.extra.stream_id);
        }
        fill(&mut hook);
        let body = hook.to_bytes();
        self.send(at_ms, s, kind, body);
    }

    /// The stream goes live at `now`; returns when its recording starts.
    pub(super) fn go_live(&mut self, s: u32, now: i64) -> i64 {
        match self.params.provider {
            Provider::Aliyun => {
                self.ingest(s, now, SimKind::Publish);
                now + self.secs(1, 3)
            }
            Provider::Tencent => {
                let sequence = self.rng.random_range(1u64 << 60..1u64 << 63).to_string();
                let session = format!("{}-{}", TENCENT_APPID, token(&mut self.rng, 16, HEX));
                let st = &mut self.streams[s as usize];
                st.extra.sequence = sequence;
                st.extra.session = session;
                st.extra.publish_ms = now;
                self.tencent_push(s, now, SimKind::Publish);
                now + self.secs(1, 3)
            }
            Provider::NginxRtmp => {
                self.connections += 1;
                let publish = now + self.rng.random_range(100..300);
                let st = &mut self.streams[s as usize];
                st.extra.client = self.connections.to_string();
                st.extra.publish_ms = publish;
                self.nginx_publisher(s, now, SimKind::Connect, &[]);
                let name = self.streams[s as usize].name.clone();
                self.nginx_publisher(
                    s,
                    publish,
                    SimKind::Publish,
                    &[("name", name), ("type", "live".into())],
                );
                publish
            }
            Provider::Srs => {
                let client = token(&mut self.rng, 8, ALNUM);
                let publish = now + self.rng.random_range(100..300);
                let st = &mut self.streams[s as usize];
                st.extra.client = client;
                st.extra.publish_ms = publish;
                st.extra.hls_from_ms = publish;
                self.srs_hook(s, now, SimKind::Connect, None, |h| h.page_url = Some(""));
                self.srs_hook(s, publish, SimKind::Publish, None, |_| {});
                publish
            }
        }
    }

    /// What nginx-rtmp and SRS send while a broadcast runs, known at its start (neither
    /// pauses): nginx-rtmp's `update_publish` calls, SRS's HLS segments, and a viewer or
    /// two.
    pub(super) fn schedule_broadcast(&mut self, s: u32, now: i64) {
        let end = self.streams[s as usize].end_ms;
        match self.params.provider {
            Provider::NginxRtmp => {
                let every = self.params.update_s.max(1) * 1000;
                let mut at = now + every;
                while at < end {
                    let time = (at - now) / 1000;
                    let timestamp = time * 1000 - self.rng.random_range(100..400);
                    let name = self.streams[s as usize].name.clone();
                    self.nginx_publisher(
                        s,
                        at,
                        SimKind::UpdatePublish,
                        &[
                            ("time", time.to_string()),
                            ("timestamp", timestamp.to_string()),
                            ("name", name),
                        ],
                    );
                    at += every;
                }
            }
            Provider::Srs => {
                let mut from = now;
                loop {
                    let length = self.rng.random_range(9_500..=10_500);
                    if from + length >= end {
                        break;
                    }
                    self.srs_segment(s, from + length, length);
                    from += length;
                }
                self.streams[s as usize].extra.hls_from_ms = from;
            }
            _ => return,
        }
        // A viewer or two, each gone before the broadcast ends.
        for _ in 0..self.rng.random_range(1..=2) {
            let latest = end - 12_000;
            if latest <= now + 5_000 {
                break;
            }
            let start = self.rng.random_range(now + 5_000..=latest);
            let stop = (start + self.rng.random_range(5_000..=120_000)).min(end - 2_000);
            self.viewer(s, start, stop);
        }
    }

    /// A viewer of stream `s` from `start` to `stop`.
    fn viewer(&mut self, s: u32, start: i64, stop: i64) {
        let addr = format!("198.51.100.{}", self.rng.random_range(2..250));
        match self.params.provider {
            Provider::NginxRtmp => {
                self.connections += 1;
                let clientid = self.connections.to_string();
                let args = format!("viewer=v{}", self.connections);
                let name = self.streams[s as usize].name.clone();
                let conn = Conn {
                    addr: &addr,
                    flashver: PLAYER_FLASHVER,
                    args: &args,
                };
                let id = [("clientid", clientid.clone())];
                let epoch = [("epoch", self.nginx_epoch(start - 140))];
                self.nginx_call(s, start - 140, SimKind::Connect, &conn, &epoch, &[], false);
                self.nginx_call(
                    s,
                    start,
                    SimKind::Play,
                    &conn,
                    &id,
                    &[
                        ("name", name.clone()),
                        ("start", "4294965296".into()),
                        ("duration", "0".into()),
                        ("reset", "0".into()),
                    ],
                    true,
                );
                let every = self.params.update_s.max(1) * 1000;
                let mut at = start + every;
                while at < stop {
                    let time = (at - start) / 1000;
                    let timestamp = at - self.streams[s as usize].extra.publish_ms;
                    self.nginx_call(
                        s,
                        at,
                        SimKind::UpdatePlay,
                        &conn,
                        &id,
                        &[
                            ("time", time.to_string()),
                            ("timestamp", timestamp.to_string()),
                            ("name", name.clone()),
                        ],
                        true,
                    );
                    at += every;
                }
                let named = [("name", name)];
                self.nginx_call(s, stop, SimKind::Done, &conn, &id, &named, true);
                self.nginx_call(s, stop + 1, SimKind::PlayDone, &conn, &id, &named, true);
                let app = [("app", self.streams[s as usize].app.clone())];
                self.nginx_call(s, stop + 2, SimKind::Disconnect, &conn, &id, &app, false);
            }
            Provider::Srs => {
                let client = token(&mut self.rng, 8, ALNUM);
                let sent = (stop - start) as u64 * self.rng.random_range(150..250);
                let c = Some((client.as_str(), addr.as_str()));
                self.srs_hook(s, start - 100, SimKind::Connect, c, |h| {
                    h.page_url = Some("")
                });
                self.srs_hook(s, start, SimKind::Play, c, |h| h.page_url = Some(""));
                self.srs_hook(s, stop, SimKind::PlayDone, c, |_| {});
                self.srs_hook(s, stop + 3, SimKind::Disconnect, c, |h| {
                    h.send_bytes = Some(sent);
                    h.recv_bytes = Some(3_500);
                });
            }
            _ => {}
        }
    }

    /// SRS's `on_hls` for the segment that ends at `at_ms` and lasts `length_ms`.
    fn srs_segment(&mut self, s: u32, at_ms: i64, length_ms: i64) {
        let st = &mut self.streams[s as usize];
        let seq = st.extra.hls_seq;
        st.extra.hls_seq += 1;
        let (app, name) = (st.app.clone(), st.name.clone());
        self.srs_hook(s, at_ms, SimKind::Segment, None, |h| {
            h.duration = Some(length_ms as f64 / 1000.0);
            h.cwd = Some(SRS_CWD);
            h.file = Some(format!("./objs/nginx/html/{app}/{name}-{seq}.ts"));
            h.url = Some(format!("{app}/{name}-{seq}.ts"));
            h.m3u8 = Some(format!("./objs/nginx/html/{app}/{name}.m3u8"));
            h.m3u8_url = Some(format!("{app}/{name}.m3u8"));
            h.seq_no = Some(seq);
        });
    }

    /// Closes the current file `[file_start, stop_ms)` with `recorded_ms` of content and
    /// schedules its callback at `at_ms`.
    pub(super) fn recording(&mut self, s: u32, at_ms: i64, stop_ms: i64, recorded_ms: i64) {
        let odd = self.rng.random_range(0..100) < ODD_DURATION_PERCENT;
        // Normal files are within half a second of what was recorded; odd ones are off by
        // 1.5 to 15 s either way, as the provider's own sample is.
        let jitter_ms = if odd {
            let j = self.rng.random_range(1500..15000);
            if self.rng.random_bool(0.5) {
                j
            } else {
                -j
            }
        } else {
            self.rng.random_range(-500..500)
        };
        let st = &self.streams[s as usize];
        let duration_ms = (recorded_ms + jitter_ms).max(1);
        let start = st.file_start_ms.div_euclid(1000);
        let stop = stop_ms.div_euclid(1000);
        match self.params.provider {
            Provider::Aliyun => {
                let uri = format!(
                    "{}/{}/{}_{}_{}.{}",
                    st.app,
                    st.name,
                    st.file_seq,
                    aliyun::wire::escaped_time(start),
                    aliyun::wire::escaped_time(stop),
                    st.ext
                );
                let body = aliyun::wire::RecordingBody {
                    domain: &st.domain,
                    app: &st.app,
                    stream: &st.name,
                    uri: &uri,
                    duration: duration_ms as f64 / 1000.0,
                    start_time: start,
                    stop_time: stop,
                    push_args: st.push_args.as_ref(),
                }
                .to_bytes();
                self.push(
                    at_ms,
                    Pending::Send(post(at_ms, s, SimKind::Recording, body)),
                );
            }
            Provider::NginxRtmp => {
                // record_unique: the file is named by the Unix time it was opened.
                let path = format!("/var/rec/{}-{start}.flv", st.name);
                self.nginx_publisher(
                    s,
                    at_ms,
                    SimKind::Recording,
                    &[
                        ("recorder", String::new()),
                        ("name", st.name.clone()),
                        ("path", path),
                    ],
                );
            }
            Provider::Srs => {
                // dvr_path's default: [app]/[stream].[timestamp].flv, the opening time in ms.
                let file = format!(
                    "./objs/nginx/html/{}/{}.{}.flv",
                    st.app, st.name, st.file_start_ms
                );
                self.srs_hook(s, at_ms, SimKind::Recording, None, |h| {
                    h.cwd = Some(SRS_CWD);
                    h.file = Some(file);
                });
            }
            Provider::Tencent => {
                let (format, ext) = match st.ext {
                    "m3u8" => ("HLS", "playlist.m3u8"),
                    "mp4" => ("MP4", "f0.mp4"),
                    _ => ("FLV", "f0.flv"),
                };
                let file_id = self
                    .rng
                    .random_range(5_285_890_000_000_000_000u64..5_285_899_999_999_999_999)
                    .to_string();
                let bytes_per_ms = self.rng.random_range(120..200);
                let st = &self.streams[s as usize];
                // Tencent sends whole seconds.
                let duration = (duration_ms + 500) / 1000;
                let body = tencent::wire::RecordFile {
                    appid: TENCENT_APPID,
                    domain: &st.domain,
                    app: &st.app,
                    stream: &st.name,
                    session_id: &st.extra.session,
                    stream_param: &st.extra.args,
                    duration,
                    start_time: start,
                    start_time_usec: st.file_start_ms.rem_euclid(1000) * 1000,
                    end_time: stop,
                    end_time_usec: stop_ms.rem_euclid(1000) * 1000,
                    file_format: format,
                    file_id: &file_id,
                    file_name: ext,
                    file_size: (duration_ms.max(0) as u64) * bytes_per_ms,
                }
                .to_bytes();
                self.send(at_ms, s, SimKind::Recording, body);
            }
        }
    }

    /// The push stops at `now`: the last file is closed and the stream goes offline, in the
    /// order each provider tells it.
    pub(super) fn go_offline(&mut self, s: u32, now: i64, recorded: i64) {
        match self.params.provider {
            Provider::Aliyun => {
                self.recording(s, now, now, recorded);
                self.ingest(s, now + 1000, SimKind::PublishDone);
            }
            Provider::Tencent => {
                // The push cut, the recording's end, then the last file once it is stored.
                self.tencent_push(s, now, SimKind::PublishDone);
                self.status(s, now + 1000, SimKind::RecordEnded);
                self.recording(s, now + 3000, now, recorded);
            }
            Provider::NginxRtmp => {
                // As captured: publish_done, done, record_done (the last file), disconnect,
                // within a few milliseconds.
                self.nginx_publisher(s, now, SimKind::PublishDone, &[]);
                self.nginx_publisher(s, now + 1, SimKind::Done, &[]);
                self.recording(s, now + 3, now, recorded);
                self.nginx_publisher(s, now + 7, SimKind::Disconnect, &[]);
            }
            Provider::Srs => {
                // The last HLS segment and DVR file close with the publish.
                let from = self.streams[s as usize].extra.hls_from_ms;
                if now > from {
                    self.srs_segment(s, now, now - from);
                }
                self.srs_hook(s, now + 2, SimKind::PublishDone, None, |_| {});
                self.recording(s, now + 10, now, recorded);
                let sent = 3_500;
                let recv = (now - self.streams[s as usize].extra.publish_ms).max(0) as u64 * 190;
                self.srs_hook(s, now + 20, SimKind::Disconnect, None, |h| {
                    h.send_bytes = Some(sent);
                    h.recv_bytes = Some(recv);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use serde_json::Value;

    use super::super::model::testing::{callback, provider_sample, wire, NOW, TENCENT_KEY};
    use super::super::model::{retries, SimKind, SimRequest};
    use super::SRS_CWD;
    use crate::event::Callback;
    use crate::providers::{detect, srs, Provider};

    #[test]
    fn every_providers_requests_are_detected_as_its_own_and_classify() {
        for provider in Provider::ALL {
            for seed in [1, 2, 3] {
                let reqs = provider_sample(provider, seed);
                assert!(reqs.len() > 20, "{provider:?}: {}", reqs.len());
                assert!(reqs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
                for r in &reqs {
                    assert_eq!(r.provider, provider);
                    let w = wire(r, Some(TENCENT_KEY));
                    // By shape, with the User-Agent sent and without any.
                    for ua in [Some(w.user_agent), None] {
                        let got = detect(w.method, w.query.as_deref(), w.content_type, ua, &w.body);
                        assert_eq!(got, provider, "{r:?}");
                    }
                    let cb = callback(r);
                    assert_eq!(cb.kind(), r.kind.callback_kind(), "{r:?}");
                    if provider == Provider::Tencent {
                        assert_eq!(
                            crate::providers::tencent::verify(&w.body, TENCENT_KEY, NOW + 599),
                            Ok(()),
                            "{r:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_providers_broadcasts_make_sense() {
        use SimKind::*;
        for provider in Provider::ALL {
            let reqs = provider_sample(provider, 5);
            // Retries only from the providers that retry, and only copies of a first delivery.
            assert_eq!(
                reqs.iter().any(|r| r.resend > 0),
                retries(provider),
                "{provider:?}"
            );
            for r in reqs.iter().filter(|r| r.resend > 0) {
                assert!(reqs.iter().any(|o| o.resend == 0 && o.body == r.body));
            }
            let firsts: Vec<&SimRequest> = reqs.iter().filter(|r| r.resend == 0).collect();
            let mut files = HashSet::new();
            for s in 0..4 {
                let mine: Vec<&SimRequest> =
                    firsts.iter().filter(|r| r.stream == s).copied().collect();
                // Live once, then offline once, each stream its own identity.
                let ingest: Vec<SimKind> = mine
                    .iter()
                    .filter(|r| r.kind.callback_kind() == "ingest")
                    .map(|r| r.kind)
                    .collect();
                assert_eq!(ingest, [Publish, PublishDone], "{provider:?} stream {s}");
                let ids: HashSet<_> = mine
                    .iter()
                    .filter_map(|r| callback(r).stream_id().cloned())
                    .collect();
                assert_eq!(ids.len(), 1, "{provider:?} {ids:?}");
                let at = |k: SimKind| mine.iter().find(|r| r.kind == k).unwrap().at_ms;
                let (live, offline) = (at(Publish), at(PublishDone));
                // Nothing about the stream before it is live but its connection.
                for r in &mine {
                    assert!(r.at_ms >= live || r.kind == Connect, "{r:?}");
                }
                // After it is offline, only the last file and the end of the connection,
                // within seconds (nginx-rtmp reports the last file after publish_done).
                for r in mine.iter().filter(|r| r.at_ms > offline) {
                    assert!(
                        matches!(r.kind, Recording | Done | Disconnect | RecordEnded),
                        "{r:?}"
                    );
                    assert!(r.at_ms - offline <= 3_000, "{r:?}");
                }
                // Several files, one callback each.
                let recordings: Vec<&&SimRequest> =
                    mine.iter().filter(|r| r.kind == Recording).collect();
                assert!(recordings.len() >= 2, "{provider:?}: {}", recordings.len());
                for r in recordings {
                    let Callback::Recording(rec) = callback(r) else {
                        panic!("{r:?}")
                    };
                    assert!(files.insert(rec.uri.clone()), "{} reported twice", rec.uri);
                }
                // Every viewer leaves, after coming, while the stream is live.
                let count = |k: SimKind| mine.iter().filter(|r| r.kind == k).count();
                assert_eq!(count(Play), count(PlayDone));
                for r in mine.iter().filter(|r| matches!(r.kind, Play | PlayDone)) {
                    assert!(r.at_ms > live && r.at_ms < offline, "{r:?}");
                }
                match provider {
                    Provider::NginxRtmp | Provider::Srs => {
                        assert!(count(Play) >= 1);
                        assert_eq!(count(RecordStarted) + count(RecordPaused), 0);
                        // Every connection opened is closed.
                        assert_eq!(count(Connect), count(Disconnect));
                    }
                    Provider::Tencent => {
                        assert_eq!(count(RecordStarted), 1);
                        assert_eq!(count(RecordEnded), 1);
                        assert_eq!(count(RecordPaused), count(RecordResumed));
                    }
                    Provider::Aliyun => assert_eq!(count(RecordStarted), 1),
                }
                if provider == Provider::NginxRtmp {
                    // update_publish every update_s (30 s) while live.
                    let updates = count(UpdatePublish) as i64;
                    assert!(
                        (updates - (offline - live) / 30_000).abs() <= 1,
                        "{updates}"
                    );
                }
                if provider == Provider::Srs {
                    // HLS segments of about 10 s cover the broadcast.
                    let mut covered = 0.0;
                    for r in mine.iter().filter(|r| r.kind == Segment) {
                        let Callback::Segment(seg) = callback(r) else {
                            panic!()
                        };
                        let d = seg.duration.unwrap();
                        assert!(d > 0.0 && d <= 10.5, "{d}");
                        covered += d;
                    }
                    let span = (offline - at(Publish)) as f64 / 1000.0;
                    assert!((covered - span).abs() < 1.0, "{covered} of {span}");
                }
            }
            let domains: HashSet<String> = firsts
                .iter()
                .filter_map(|r| callback(r).stream_id().map(|i| i.domain.clone()))
                .collect();
            assert_eq!(domains.len(), 2, "{provider:?}: {domains:?}");
        }
    }

    #[test]
    fn nginx_rtmp_calls_carry_the_captured_fields_in_the_captured_order() {
        use crate::providers::form::parse_query;
        // The URL's own arguments are appended raw; everything else is nginx-rtmp's.
        let own = |body: &[u8]| -> Vec<String> {
            parse_query(&String::from_utf8_lossy(body))
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k != "token" && k != "viewer")
                .collect()
        };
        let mut captured = BTreeMap::new();
        for c in crate::providers::captures::nginx_rtmp() {
            if c.file.starts_with("nginx-rtmp/") {
                captured
                    .entry(c.call.clone())
                    .or_insert_with(|| own(&c.body));
            }
        }
        assert!(captured.len() >= 8, "{captured:?}");
        let reqs = provider_sample(Provider::NginxRtmp, 9);
        let mut seen = HashSet::new();
        for r in &reqs {
            let fields = parse_query(&String::from_utf8_lossy(&r.body));
            let call = &fields.iter().find(|(k, _)| k == "call").unwrap().1;
            seen.insert(call.clone());
            assert_eq!(Some(&own(&r.body)), captured.get(call), "{call}");
            assert_eq!(r.method, "POST");
            let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
            let tcurl = get("tcurl").unwrap();
            assert!(
                tcurl.starts_with("rtmp://rtmp")
                    && tcurl.ends_with(&format!(":1935/{}", get("app").unwrap())),
                "{tcurl}"
            );
            if call == "record_done" {
                let path = get("path").unwrap();
                let stem = path
                    .strip_prefix(&format!("/var/rec/{}-", get("name").unwrap()))
                    .and_then(|p| p.strip_suffix(".flv"))
                    .unwrap_or_else(|| panic!("{path}"));
                assert!(stem.len() == 10 && stem.parse::<i64>().is_ok(), "{path}");
            }
        }
        for call in [
            "connect",
            "publish",
            "update_publish",
            "play",
            "update_play",
            "record_done",
            "done",
            "play_done",
            "publish_done",
            "disconnect",
        ] {
            assert!(seen.contains(call), "no {call}");
        }
        // nginx-rtmp's escaping, as captured.
        assert!(reqs.iter().any(|r| {
            String::from_utf8_lossy(&r.body).contains("&flashver=FMLE/3.0%20(compatible%3B%20")
        }));
    }

    #[test]
    fn srs_hooks_are_srs_shaped() {
        let reqs = provider_sample(Provider::Srs, 4);
        for r in &reqs {
            assert_eq!(r.user_agent(), Some(srs::wire::USER_AGENT));
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            let action = v["action"].as_str().unwrap();
            for k in ["server_id", "service_id", "client_id", "ip", "vhost", "app"] {
                assert!(v[k].is_string(), "{action} without {k}: {v}");
            }
            match action {
                "on_connect" | "on_close" => assert!(v.get("stream").is_none()),
                _ => {
                    assert_eq!(
                        v["stream_url"].as_str().unwrap(),
                        format!(
                            "{}/{}/{}",
                            v["vhost"].as_str().unwrap(),
                            v["app"].as_str().unwrap(),
                            v["stream"].as_str().unwrap()
                        )
                    );
                }
            }
            if action == "on_dvr" {
                assert_eq!(v["cwd"], SRS_CWD);
                assert!(v["file"]
                    .as_str()
                    .unwrap()
                    .starts_with("./objs/nginx/html/"));
            }
            if action == "on_hls" {
                assert!(v["seq_no"].is_u64() && v["duration"].is_f64(), "{v}");
            }
        }
    }
}
