//! `cos-event-relay`: the SCF custom-runtime entry point (ship it as `bootstrap`).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use cos_event_relay::{Relay, Runtime, Settings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    let runtime_api = match &settings {
        Ok(settings) => settings.runtime_api.clone(),
        Err(_) => format!(
            "{}:{}",
            std::env::var("SCF_RUNTIME_API").unwrap_or_default(),
            std::env::var("SCF_RUNTIME_API_PORT").unwrap_or_default()
        ),
    };
    let runtime = Runtime::new(&runtime_api);
    let relay = match settings.and_then(|s| Relay::new(&s)) {
        Ok(relay) => relay,
        Err(err) => {
            eprintln!("cos-event-relay: {err}");
            // Best effort: if the runtime API is not there either, the exit says enough.
            let _ = runtime.init_failed(&err.to_string()).await;
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = runtime.ready().await {
        eprintln!("cos-event-relay: {err}");
        return ExitCode::FAILURE;
    }

    loop {
        let event = match runtime.next().await {
            Ok(event) => event,
            Err(err) => {
                eprintln!("cos-event-relay: {err}");
                return ExitCode::FAILURE;
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let reported = match relay.forward(event, now).await {
            Ok(()) => runtime.respond("{\"relayed\":true}".into()).await,
            Err(err) => {
                eprintln!("cos-event-relay: {err}");
                runtime.fail(&err.to_string()).await
            }
        };
        if let Err(err) = reported {
            eprintln!("cos-event-relay: {err}");
            return ExitCode::FAILURE;
        }
    }
}
