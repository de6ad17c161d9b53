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


def _shc_qr_text(vectors) -> str:
    name = "example-00-f-qr-code-numeric-value-0.txt"
    return (vectors / "shc" / "examples" / name).read_text().strip()


def test_qr_pictures_in_any_format_pillow_reads(vectors, tmp_path):
    from cowin_kit.testing import qr_picture

    trust = vectors / "shc" / "issuer" / "jwks.json"
    card = _shc_qr_text(vectors)
    for name, data in [("card.tiff", qr_picture(card, "TIFF")),
                       ("card.gif", qr_picture(card, "GIF", frames=3)),
                       ("card.webp", qr_picture(card, "WEBP", frames=2))]:
        picture = tmp_path / name
        picture.write_bytes(data)
        result = _run("--trust", trust, picture)
        assert result.exit_code == 0 and result.output.startswith("VALID shc"), \
            (name, result.output)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(128, 256)) * 4)
    result = _run("--trust", trust, junk)
    assert result.exit_code == 2 and "encoding_invalid" in result.output, result.output


def test_a_pixel_bomb_is_refused_before_decoding(vectors, tmp_path):
    import time

    from cowin_kit.testing import huge_png

    # the size reported, and one below Pillow's own limit (89 M pixels)
    for side in (13_000, 9_000):
        bomb = tmp_path / "bomb.png"
        bomb.write_bytes(huge_png(side, side))
        started = time.perf_counter()
        result = _run("--trust", vectors / "shc" / "issuer" / "jwks.json", "--json", bomb)
        assert time.perf_counter() - started < 2, "the picture was decoded"
        assert result.exit_code == 2, result.output
        assert json.loads(result.output)["errors"] == ["image_too_large"], side


def test_qr_text_given_on_the_command_line(vectors):
    trust = vectors / "shc" / "issuer" / "jwks.json"
    result = _run("--trust", trust, _shc_qr_text(vectors))
    assert result.exit_code == 0 and result.output.startswith("VALID shc"), result.output
    # longer than a file name may be (and no "/" to split it into path components)
    long_text = "HC1:" + "6BF" * 300
    result = _run("--trust", trust, long_text)
    assert result.exit_code == 2 and result.output.startswith("NOT VALID dcc"), result.output


def test_deeply_nested_json_inside_a_certificate_is_unreadable(vectors, tmp_path):
    import base64
    import zlib

    from cowin_kit.certificates.formats import shc, vc
    from cowin_kit.certificates.formats.codecs import b45encode, deflate_raw

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    nested = ("[" * 50_000 + "]" * 50_000).encode()
    header = b64(b'{"zip":"DEF","alg":"ES256","kid":"k"}')
    payload = b'{"iss":"https://x","vc":' + nested + b"}"
    inputs = {
        "shc.txt": shc.qr_text(f"{header}.{b64(deflate_raw(payload))}.{b64(bytes(64))}"),
        "shc-header.txt": shc.qr_text(f"{b64(b'[' * 300 + b']' * 300)}.{b64(deflate_raw(b'{}'))}."
                                      f"{b64(bytes(64))}"),
        "vc.txt": vc.PREFIX + b45encode(zlib.compress(b'{"a":' + nested + b"}", 9)),
        "file.smart-health-card": '{"verifiableCredential":' + nested.decode() + "}",
        "depth-200.txt": vc.PREFIX + b45encode(zlib.compress(
            b'{"a":' + b"[" * 200 + b"]" * 200 + b"}", 9)),
    }
    for name, content in inputs.items():
        path = tmp_path / name
        path.write_text(content)
        assert len(content) < 4296 or name.endswith("-card"), name  # it fits a QR code
        result = _run("--trust", vectors / "shc" / "issuer" / "jwks.json", "--json", path)
        assert result.exit_code == 2, (name, result.output, result.exception)
        assert "json_too_deep" in json.loads(result.output)["errors"], name


def test_a_smart_health_cards_revocation_list_in_the_specs_format(tmp_path):
    from cowin_kit.certificates.formats import keys, shc

    key = keys.new_p256_key()
    kid = keys.jwk_thumbprint(key)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(keys.jwks([key], alg="ES256")))
    nbf = 1_700_000_000
    claims = {"iss": "https://issuer.example", "nbf": nbf,
              "vc": {"type": [shc.HEALTH_CARD], "rid": "r1d-0",
                     "credentialSubject": {"fhirVersion": "4.0.1", "fhirBundle": {}}}}
    card = tmp_path / "card.txt"
    jws = shc.sign(claims, key, kid=kid)
    card.write_text(shc.qr_text(jws))
    card_file = tmp_path / "card.smart-health-card"  # the same card as a file
    card_file.write_text(json.dumps({"verifiableCredential": [jws]}))
    crl = tmp_path / "crl.json"

    def run(rids, crl_kid=kid, card=card):
        crl.write_text(json.dumps({"kid": crl_kid, "method": "rid", "ctr": 3, "rids": rids}))
        return _run("--trust", jwks, "--revocations", crl, "--at", "2024-01-01", card)

    assert run(["other"]).exit_code == 0
    assert run(["r1d-0"]).exit_code == 1 and "revoked" in run(["r1d-0"]).output
    assert run(["other"], card=card_file).exit_code == 0
    assert run(["r1d-0"], card=card_file).exit_code == 1
    # "rid.timestamp": cards issued (nbf) before the timestamp are revoked, later ones not
    assert run([f"r1d-0.{nbf + 1}"]).exit_code == 1
    assert run([f"r1d-0.{nbf}"]).exit_code == 0
    assert run(["r1d-0"], crl_kid="another-key").exit_code == 0  # a list is per key
    bad = run(5)
    assert bad.exit_code == 2 and "revocation list" in bad.output, bad.output
    assert bad.exception is None or isinstance(bad.exception, SystemExit)


def test_a_dcc_issued_outside_its_signing_certificates_validity(tmp_path):
    from datetime import datetime, timedelta, timezone

    from cowin_kit.certificates.formats import dcc

    start = datetime(2023, 1, 1, tzinfo=timezone.utc)
    signer = dcc.make_document_signer("IN", "DSC", not_before=start, days=30)
    certificate = tmp_path / "dsc.pem"
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate.write_bytes(signer.certificate.public_bytes(Encoding.PEM))
    payload = {"ver": "1.3.0", "nam": {"fnt": "A"}, "dob": "1990-01-01",
               "v": [{"ci": "URN:UVCI:01:IN:X", "dn": 1, "sd": 2}]}

    def run(issued_at):
        text = dcc.encode(payload, private_key=signer.private_key,
                          certificate=signer.certificate, issuer="IN", issued_at=issued_at,
                          expires_at=issued_at + timedelta(days=365))
        qr = tmp_path / "qr.txt"
        qr.write_text(text)
        return _run("--trust", certificate, "--at", (issued_at + timedelta(days=1)).isoformat(),
                    "--json", qr)

    inside = run(start + timedelta(days=10))
    assert inside.exit_code == 0, inside.output
    for moment in (start - timedelta(days=2), start + timedelta(days=40)):
        outside = run(moment)
        body = json.loads(outside.output)
        assert outside.exit_code == 1 and body["signature_valid"] is True, outside.output
        assert body["errors"] == ["signer_not_valid"], body["errors"]
