"""The DCC verifier's shortcuts give what the general paths give: Base45 on one big
integer, zlib in one call, the COSE_Sign1 read without cbor2 in the usual shape, the
Sig_structure and DER signature written out, and the key-usage verdict worked out once per
trusted signer (which must still refuse what the signer's EKU does not allow)."""

from __future__ import annotations

import os
import random
import zlib
from datetime import datetime, timedelta, timezone

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cowin_kit.certificates import TrustStore, verify
from cowin_kit.certificates.formats import dcc, keys
from cowin_kit.certificates.formats.codecs import CodecError, b45decode, b45encode, zlib_decompress

AT = datetime(2021, 7, 1, tzinfo=timezone.utc)
START = datetime(2021, 1, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- codecs

def test_base45_beyond_the_largest_qr_code():
    data = random.Random(1).randbytes(3000)  # 1,500 groups: more than the shared masks
    text = b45encode(data)
    assert b45decode(text) == data
    with pytest.raises(CodecError) as refused:
        b45decode(text + "GGW")  # 65536 in the last group
    assert refused.value.code == "base45_invalid"
    with pytest.raises(CodecError):
        b45decode("GGW" + text)


def _inflate_by_object(data: bytes, limit: int) -> bytes:
    """The decompressor-object path (the one long inputs take), forced."""
    decompressor = zlib.decompressobj()
    out = decompressor.decompress(data, limit)
    assert not decompressor.unconsumed_tail and decompressor.eof
    return out


@pytest.mark.parametrize("size", [0, 1, 500, 5000])
def test_zlib_short_input_is_inflated_in_one_call(size):
    original = random.Random(size).randbytes(size // 2) * 2
    compressed = zlib.compress(original, 9)
    assert zlib_decompress(compressed) == original == _inflate_by_object(compressed, 1 << 20)
    assert zlib_decompress(compressed + b"trailing") == original  # as before: ignored


@pytest.mark.parametrize("data, message", [
    (zlib.compress(b"x" * 300)[:-3], "zlib stream is truncated"),
    (b"", "zlib stream is truncated"),
    (b"not zlib at all", "not a zlib stream: Error -3 while decompressing data: "
                         "incorrect header check"),
])
def test_zlib_refusals_read_the_same_on_both_paths(data, message):
    one_call = 1 << 20
    by_object = 1032 * len(data) - 1  # too small a limit for the one-call path
    for limit in ((one_call, by_object) if data else (one_call,)):
        with pytest.raises(CodecError) as refused:
            zlib_decompress(data, limit=limit)
        assert refused.value.code == "zlib_invalid"
        assert str(refused.value) == message


def test_zlib_bomb_is_still_refused():
    bomb = zlib.compress(b"\x00" * (2 << 20), 9)
    with pytest.raises(CodecError) as refused:
        zlib_decompress(bomb)
    assert str(refused.value) == "decompressed payload is too large"


# --------------------------------------------------------------------------- COSE

@pytest.mark.parametrize("sizes", [(0, 0), (3, 23), (13, 24), (20, 255), (20, 256),
                                   (20, 65535), (20, 65536)])
def test_sig_structure_is_what_cbor2_writes(sizes):
    protected, payload = os.urandom(sizes[0]), os.urandom(sizes[1])
    expected = cbor2.dumps(["Signature1", protected, b"", payload])
    assert dcc._sig_structure(protected, payload) == expected


def test_es256_der_is_what_cryptography_writes():
    rng = random.Random(5)
    signatures = [bytes(64), b"\x80" * 64, b"\x00\x80" + bytes(62), b"\x01" + bytes(63)]
    signatures += [bytes(rng.randrange(40)) + rng.randbytes(64)[:64] for _ in range(300)]
    for signature in signatures:
        signature = signature[:64].ljust(64, b"\x7f")
        assert dcc._es256_der(signature) == keys.ecdsa_raw_to_der(signature)


@pytest.fixture(scope="module")
def signer() -> dcc.SigningIdentity:
    return dcc.make_document_signer("IN", "DSC fast paths", not_before=START)


def _payload(kind: str = "v") -> dict:
    entry = {"tg": "840539006", "ci": "URN:UVCI:01:IN:ABC123#K", "co": "IN",
             "is": "Ministry of Health"}
    document = {"ver": "1.3.0", "nam": {"fn": "Kumar", "fnt": "KUMAR"}, "dob": "1980-01-01"}
    if kind:
        document[kind] = [entry]
    return document


def _hc1(signing: dcc.SigningIdentity, document: dict) -> str:
    return dcc.encode(document, private_key=signing.private_key,
                      certificate=signing.certificate, issuer="IN", issued_at=START,
                      expires_at=START + timedelta(days=365))


def _cbor2_decode_cose(data: bytes) -> dcc.CoseSign1:
    """decode_cose with the shortcut refused: cbor2 decodes everything."""
    original = dcc._usual_cose
    dcc._usual_cose = lambda _data: None
    try:
        return dcc.decode_cose(data)
    finally:
        dcc._usual_cose = original


def _cose_bytes(hc1: str) -> bytes:
    return zlib_decompress(b45decode(hc1[4:]))


def test_usual_cose_shape_reads_as_cbor2_reads_it(signer):
    data = _cose_bytes(_hc1(signer, _payload()))
    assert dcc._usual_cose(data) is not None
    assert dcc.decode_cose(data) == _cbor2_decode_cose(data)


def test_other_cose_shapes_are_left_to_cbor2(signer):
    protected, _, payload, signature = cbor2.loads(_cose_bytes(_hc1(signer, _payload()))).value
    shapes = [
        cbor2.dumps(cbor2.CBORTag(18, [protected, {4: b"12345678"}, payload, signature])),
        cbor2.dumps([protected, {}, payload, signature]),
        cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(18, [protected, {}, payload, signature]))),
        cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature])) + b"\x00",
        b"\xd2\x84" + cbor2.dumps(protected) + b"\xa0\x5f" + cbor2.dumps(payload) + b"\xff"
        + cbor2.dumps(signature),  # an indefinite-length payload
        b"\xd2\x84" + cbor2.dumps(protected) + b"\xa0" + cbor2.dumps(payload),  # 3 items
        b"\xd2\x84\x59\xff",  # a length beyond the data
    ]
    for data in shapes:
        assert dcc._usual_cose(data) is None
        try:
            expected = _cbor2_decode_cose(data)
        except dcc.DccError as exc:
            with pytest.raises(dcc.DccError) as refused:
                dcc.decode_cose(data)
            assert (refused.value.code, str(refused.value)) == (exc.code, str(exc))
        else:
            assert dcc.decode_cose(data) == expected


def test_a_decoded_protected_header_is_not_shared(signer):
    data = _cose_bytes(_hc1(signer, _payload()))
    first = dcc.decode_cose(data)
    first.protected[dcc.COSE_KID] = b"changed!"
    assert dcc.decode_cose(data).kid == signer.kid
    _, unprotected, payload, signature = cbor2.loads(data).value
    nested = cbor2.dumps({1: -7, 4: signer.kid, 33: [b"certificate"]})  # x5chain: a list
    data = cbor2.dumps(cbor2.CBORTag(18, [nested, unprotected, payload, signature]))
    dcc.decode_cose(data).protected[33].append(b"another")
    assert dcc.decode_cose(data).protected[33] == [b"certificate"]


# --------------------------------------------------------------------------- key usage

def test_a_trusted_signer_knows_once_which_entries_it_may_sign():
    kinds = {(dcc.EKU_VACCINATION,): {"v"}, (dcc.EKU_TEST, dcc.EKU_RECOVERY): {"t", "r"},
             (): None}
    for usages, expected in kinds.items():
        signing = dcc.make_document_signer("IN", "DSC", key_usages=usages, not_before=START)
        entry = TrustStore().add_certificate(signing.certificate)
        assert entry.dcc_entry_types == (frozenset(expected) if expected else None)
    assert dcc.dcc_entry_types_allowed(frozenset()) == frozenset()


@pytest.mark.parametrize("usages, kind, allowed", [
    ((dcc.EKU_VACCINATION,), "v", True),
    ((dcc.EKU_VACCINATION,), "t", False),  # a vaccination signer may not sign a test
    ((dcc.EKU_TEST,), "v", False),
    ((dcc.EKU_TEST, dcc.EKU_RECOVERY), "r", True),
    ((dcc.EKU_VACCINATION,), "", False),  # a restricted signer, a DCC without entries
    ((), "", True),  # unrestricted
    (("2.23.136.1.1.6.2",), "v", False),  # an EKU naming no DCC purpose (ICAO DS)
])
def test_key_usage_is_still_judged_per_certificate(usages, kind, allowed):
    signing = dcc.make_document_signer("IN", "DSC", key_usages=usages, not_before=START)
    trust = TrustStore()
    trust.add_certificate(signing.certificate)
    document = _payload(kind)
    result = verify(_hc1(signing, document), trust=trust, at=AT)
    assert result.signature_valid and result.key_usage_ok is allowed
    assert result.valid is allowed
    assert result.errors == ([] if allowed else ["key_usage_invalid"])
    usages_seen = dcc.certificate_dcc_key_usages(signing.certificate)
    assert dcc.key_usage_allows(usages_seen, document) is allowed


def test_cached_facts_do_not_hide_times_or_revocation(signer):
    trust = TrustStore()
    trust.add_certificate(signer.certificate)
    hc1 = _hc1(signer, _payload())
    assert verify(hc1, trust=trust, at=AT).valid
    late = verify(hc1, trust=trust, at=START + timedelta(days=400))
    assert late.expired and late.errors == ["expired"] and not late.valid
    early = verify(hc1, trust=trust, at=START - timedelta(days=1))
    assert early.not_yet_valid and early.errors == ["not_yet_valid"]
    revoked = verify(hc1, trust=trust, at=AT, revoked={"URN:UVCI:01:IN:ABC123"})
    assert revoked.revoked and revoked.errors == ["revoked"]
    other = dcc.make_document_signer("IN", "DSC other", not_before=START)
    forged = _hc1(other, _payload())  # same payload, a key the store does not hold
    assert verify(forged, trust=trust, at=AT).errors == ["kid_unknown"]


def test_a_non_ec_key_under_an_es256_kid_does_not_verify(signer):
    cose = dcc.decode_cose(_cose_bytes(_hc1(signer, _payload())))
    assert dcc.verify_cose_signature(cose, signer.certificate.public_key())
    other_ec = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert not dcc.verify_cose_signature(cose, other_ec)
    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    assert not dcc.verify_cose_signature(cose, rsa_key)
