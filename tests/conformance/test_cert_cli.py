"""`cowin-kit cert verify`: inputs, trust options, --json and exit codes 0/1/2."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cowin_kit.cli import main


def _run(*args):
    return CliRunner().invoke(main, ["cert", "verify", *map(str, args)])


def test_valid_file_and_qr_forms_exit_0(vectors):
    shc = vectors / "shc"
    trust = shc / "issuer" / "jwks.json"
    for name in ("example-00-e-file.smart-health-card", "example-00-f-qr-code-numeric-value-0.txt",
                 "example-00-d-jws.txt"):
        result = _run("--trust", trust, shc / "examples" / name)
        assert result.exit_code == 0, (name, result.output)
        assert result.output.startswith("VALID shc")


def test_json_output_has_the_documented_fields(vectors):
    shc = vectors / "shc"
    result = _run("--trust", shc / "issuer" / "jwks.json", "--json",
                  shc / "examples" / "example-00-f-qr-code-numeric-value-0.txt")
    body = json.loads(result.output)
    assert set(body) == {"format", "valid", "signature_valid", "kid", "issuer", "issued_at",
                         "expires_at", "expired", "not_yet_valid", "revoked", "key_usage_ok",
                         "payload", "errors"}
    assert body["format"] == "shc" and body["signature_valid"] is True


def test_a_bad_signature_exits_1_and_garbage_exits_2(vectors, tmp_path):
    shc = vectors / "shc"
    bad = _run("--trust", shc / "issuer" / "jwks.json",
               shc / "negative" / "test-example-00-d-jws-invalid-signature.txt")
    assert bad.exit_code == 1 and "signature_invalid" in bad.output
    garbage = tmp_path / "qr.txt"
    garbage.write_text("HC1:not base45 at all!!")
    unreadable = _run("--trust", shc / "issuer" / "jwks.json", garbage)
    assert unreadable.exit_code == 2, unreadable.output


def test_a_dcc_vector_with_its_signing_certificate(vectors, tmp_path):
    import base64

    case = json.loads((vectors / "dcc" / "AT" / "2DCode" / "raw" / "1.json").read_text())
    certificate = tmp_path / "dsc.der"
    certificate.write_bytes(base64.b64decode(case["TESTCTX"]["CERTIFICATE"]))
    qr = tmp_path / "qr.txt"
    qr.write_text(case["PREFIX"])
    result = _run("--trust", certificate, "--at", case["TESTCTX"]["VALIDATIONCLOCK"], "--json", qr)
    body = json.loads(result.output)
    assert body["format"] == "dcc" and body["signature_valid"] is True, body
