//! `providers`: what telling the providers apart costs, and what reading each provider's
//! recording callback costs, in process.

use std::time::Instant;

use super::ab::{ab_row, Ab, Bound, Judge};
use super::{median, Suite};

/// The providers' bodies the `providers` section reads: the real captured nginx-rtmp
/// record_done, SRS's documented on_dvr and Tencent's real 2017 recording callback (the test
/// fixtures), and ApsaraVideo's spec recording sample.
mod provider_bodies {
    pub const ALIYUN: &str = r#"{"domain":"demo.aliyundoc.com","app":"liveApp****","stream":"liveStream****","uri":"liveApp****/liveStream****/0_2017-03-08-23:09:46_2017-03-08-23:10:40.flv","duration":69.403,"start_time":1488985786,"stop_time":1488985840,"push_args":{"callback_args1":"value1","callback_myid":"1231389741"}}"#;
    pub const NGINX: &str = "app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://127.0.0.1:19935/live&pageurl=&addr=127.0.0.1&clientid=1&call=record_done&recorder=&name=cam1&path=/srv/rec/cam1-1795812650.flv&token=abc";
    pub const SRS: &str =
        include_str!("../../../../tests/fixtures/providers/samples/srs_on_dvr.json");
    pub const TENCENT: &str =
        include_str!("../../../../tests/fixtures/providers/samples/tencent_record_100.json");
}

impl Suite {
    /// `providers`: what telling the providers apart costs ApsaraVideo's callbacks (detection
    /// then classification, against classification alone), and what reading each other
    /// provider's recording callback costs against reading ApsaraVideo's. In process, no I/O:
    /// the median of many rounds of many calls, the two sides of each ratio interleaved.
    pub fn providers(&mut self) {
        use recmon::event::Method;
        use recmon::providers::{classify, detect, Provider};
        let calls = if self.size.requests < 10_000 {
            2_000
        } else {
            20_000
        };
        let rounds = 15;
        let time = |f: &dyn Fn() -> bool| {
            let t0 = Instant::now();
            let mut ok = 0usize;
            for _ in 0..calls {
                ok += f() as usize;
            }
            assert_eq!(ok, calls, "every call classifies");
            t0.elapsed().as_secs_f64() * 1e9 / calls as f64
        };
        let read = |ct: &'static str, body: &'static str| {
            move || {
                let b = std::hint::black_box(body.as_bytes());
                let p = detect(Method::Post, None, Some(ct), None, b);
                classify(p, Method::Post, None, b).0.is_ok()
            }
        };
        let aliyun_alone = || {
            let b = std::hint::black_box(provider_bodies::ALIYUN.as_bytes());
            classify(Provider::Aliyun, Method::Post, None, b).0.is_ok()
        };
        let aliyun = read("application/json", provider_bodies::ALIYUN);
        type Reader = Box<dyn Fn() -> bool>;
        let detect_alone = || {
            let b = std::hint::black_box(provider_bodies::ALIYUN.as_bytes());
            detect(Method::Post, None, Some("application/json"), None, b) == Provider::Aliyun
        };
        let others: [(&str, Reader); 3] = [
            (
                "nginx-rtmp record_done (form)",
                Box::new(read(
                    "application/x-www-form-urlencoded",
                    provider_bodies::NGINX,
                )),
            ),
            (
                "SRS on_dvr",
                Box::new(read("application/json", provider_bodies::SRS)),
            ),
            (
                "Tencent Cloud recording file (100)",
                Box::new(read("application/json", provider_bodies::TENCENT)),
            ),
        ];
        let (mut with, mut alone, mut detecting) = (Vec::new(), Vec::new(), Vec::new());
        let mut other: Vec<Vec<f64>> = vec![Vec::new(); others.len()];
        for _ in 0..rounds {
            alone.push(time(&aliyun_alone));
            with.push(time(&aliyun));
            detecting.push(time(&detect_alone));
            for (i, (_, f)) in others.iter().enumerate() {
                other[i].push(time(f.as_ref()));
            }
        }
        let ns = |v: f64| format!("{v:.0} ns");
        self.rows.push(ab_row(Ab {
            what: "Providers: reading an ApsaraVideo recording callback, detection included".into(),
            baseline: &alone,
            recmon: &with,
            show: ns,
            baseline_is: "its classifier alone",
            recmon_is: None,
            decimals: 3,
            baseline_floor: None,
            target: "≤ 1.10× in every round (telling providers apart costs ApsaraVideo ≤ 10%)"
                .into(),
            judge: Judge::EveryRound(Bound::AtMost(1.10)),
            invalid: None,
            raw: format!(
                "median of {rounds} rounds of {calls} calls, interleaved; with detection {with:.0?} ns, alone {alone:.0?} ns; detection by itself {:.0} ns (median of {detecting:.0?})",
                median(&mut detecting.clone())
            ),
        }));
        // Each other provider's reading against ApsaraVideo's, measured in the same rounds.
        for (i, (name, _)) in others.iter().enumerate() {
            self.rows.push(ab_row(Ab {
                what: format!("Providers: reading a {name}, detection included"),
                baseline: &with,
                recmon: &other[i],
                show: ns,
                baseline_is: "an ApsaraVideo recording callback",
                recmon_is: None,
                decimals: 2,
                baseline_floor: None,
                target: "≤ 5× (a few µs: far below one request's HTTP handling)".into(),
                judge: Judge::Median(Bound::AtMost(5.0)),
                invalid: None,
                raw: format!(
                    "median of {rounds} rounds of {calls} calls, interleaved with the ApsaraVideo rows; {:.0?} ns",
                    other[i]
                ),
            }));
        }
    }
}
