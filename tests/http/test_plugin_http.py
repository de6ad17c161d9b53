"""plugins.http_request against real local servers (http.server in threads, one TLS)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cowin_kit.plugins import HttpError, http_request

SECRET = {"Authorization": "Bearer s3cret"}


class Server:
    """Answers each request with the next scripted (status, headers) or 200; records the
    requests it got."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append({"method": self.command, "path": self.path,
                                        "headers": dict(self.headers),
                                        "body": self.rfile.read(length)})
                time.sleep(server.delay)
                status, headers = server.script.pop(0) if server.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = handle_any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.origin = f"{scheme}://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def servers():
    made: list[Server] = []

    def make(tls=None) -> Server:
        made.append(Server(tls))
        return made[-1]

    yield make
    for server in made:
        server.close()


def self_signed(tmp_path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for 127.0.0.1: the server's TLS context and a client's that trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_a_redirect_to_another_origin_is_refused_and_the_credential_stays(servers):
    gateway, elsewhere = servers(), servers()
    gateway.script = [(302, {"Location": f"{elsewhere.origin}/steal"})]
    with pytest.raises(HttpError, match="redirect to another origin refused") as refused:
        http_request("POST", f"{gateway.origin}/send", headers=SECRET, body=b"{}", retries=2,
                     sleep=lambda _: None)
    assert refused.value.status == 302 and not refused.value.transient
    assert elsewhere.requests == []  # never even asked, let alone with the credential
    assert len(gateway.requests) == 1  # a refusal is not retried


def test_a_redirect_within_the_origin_is_followed_with_its_headers(servers):
    gateway = servers()
    gateway.script = [(307, {"Location": "/v2/send"})]
    answer = http_request("POST", f"{gateway.origin}/send", headers=SECRET, body=b"{}")
    assert answer.status == 200 and answer.body == b"ok"
    assert answer.url == f"{gateway.origin}/v2/send"
    moved = gateway.requests[1]
    assert (moved["method"], moved["path"], moved["body"]) == ("POST", "/v2/send", b"{}")
    assert moved["headers"]["Authorization"] == "Bearer s3cret"


def test_https_never_falls_back_to_http(servers, tmp_path):
    server_tls, client_tls = self_signed(tmp_path)
    gateway, plain = servers(server_tls), servers()
    answer = http_request("GET", f"{gateway.origin}/ok", ssl_context=client_tls)
    assert answer.status == 200  # the TLS set-up works
    # the same host and port, only the scheme changed: still another origin
    downgrade = gateway.origin.replace("https://", "http://")
    for target in (f"{plain.origin}/send", downgrade + "/send"):
        gateway.script = [(301, {"Location": target})]
        with pytest.raises(HttpError, match="another origin"):
            http_request("GET", f"{gateway.origin}/send", headers=SECRET, ssl_context=client_tls)
    assert plain.requests == []


def test_only_http_urls_and_allowed_hosts(servers):
    gateway = servers()
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "http:///nohost",
                "http://user:pw@127.0.0.1/"):
        with pytest.raises(HttpError):
            http_request("GET", url)
    with pytest.raises(HttpError, match="not in the allowed hosts"):
        http_request("GET", f"{gateway.origin}/", allowed_hosts=["sms.example.org"])
    assert gateway.requests == []
    assert http_request("GET", f"{gateway.origin}/", allowed_hosts=["127.0.0.1"]).status == 200


def test_retries_with_backoff_on_5xx_not_on_4xx(servers):
    gateway = servers()
    gateway.script = [(503, {}), (502, {}), (200, {})]
    waits: list[float] = []
    assert http_request("POST", f"{gateway.origin}/", body=b"x", retries=3,
                        backoff_seconds=0.25, sleep=waits.append).status == 200
    assert waits == [0.25, 0.5] and len(gateway.requests) == 3
    gateway.script = [(503, {}), (503, {})]
    with pytest.raises(HttpError) as failed:
        http_request("POST", f"{gateway.origin}/", body=b"x", retries=1, sleep=waits.append)
    assert (failed.value.status, failed.value.attempts, failed.value.transient) == (503, 2, True)
    gateway.script = [(401, {})]
    with pytest.raises(HttpError) as refused:
        http_request("POST", f"{gateway.origin}/", body=b"x", retries=3, sleep=waits.append)
    assert (refused.value.status, refused.value.attempts) == (401, 1)
    assert refused.value.body == b"ok"


def test_a_hanging_server_times_out_each_attempt(servers):
    gateway = servers()
    gateway.delay = 2.0
    started = time.monotonic()
    with pytest.raises(HttpError) as failed:
        http_request("GET", f"{gateway.origin}/", timeout=0.2, retries=1, sleep=lambda _: None)
    assert time.monotonic() - started < 1.5
    assert failed.value.status is None and failed.value.transient
    assert failed.value.attempts == 2
