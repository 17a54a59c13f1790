//! Email over SMTP (to an in-process sink), when `[smtp] url` is set.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mailin_embedded::{response, Handler, Response, Server};
use turva_testkit::{Backend, TestApp};

#[derive(Clone, Default)]
struct Sink {
    current: Vec<u8>,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Handler for Sink {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.current.clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        if let Ok(mut r) = self.received.lock() {
            r.push(std::mem::take(&mut self.current));
        }
        response::OK
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_go_out_over_smtp_when_configured() {
    let sink = Sink::default();
    let received = sink.received.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut server = Server::new(sink);
    server.with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });

    let url = format!("smtp://127.0.0.1:{port}");
    let Some(t) = TestApp::start_with(Backend::Sqlite, move |c| {
        c.smtp.url = Some(turva_app::config::Secret::new(url));
        c.server.public_url = Some("https://turva.example.test".into());
    })
    .await
    else {
        panic!("no app")
    };
    let r = turva_app::companies::create(
        &t.app,
        &turva_app::Ctx::cli(),
        turva_app::companies::Creator::Cli,
        "Työmaa Oy",
        "owner@example.test",
    )
    .await;
    assert!(r.is_ok());
    assert!(
        t.outbox().is_empty(),
        "nothing goes to the outbox when SMTP is configured"
    );
    let raw = received.lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(raw.len(), 1);
    let msg = mail_parser::MessageParser::default()
        .parse(&raw[0])
        .unwrap_or_else(|| panic!("unparsable mail"));
    assert_eq!(msg.subject(), Some("Invitation to Työmaa Oy on Turva"));
    let text = msg.body_text(0).map(|t| t.to_string()).unwrap_or_default();
    assert!(
        text.contains("https://turva.example.test/accept-invite?token="),
        "{text}"
    );
    assert!(msg.body_html(0).is_some(), "a text and an HTML part");
}
