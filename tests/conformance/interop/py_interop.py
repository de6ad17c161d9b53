"""Checks and issues EU DCC and SMART Health Card certificates with independent libraries
(pycose, cbor2 and base45 for the DCC; jwcrypto for the SMART Health Card): run in the
venv tests/conformance/test_interop.py builds from requirements.txt, never importing the kit.

stdin (JSON) -> stdout (JSON):
  {"mode": "dcc-verify", "hc1", "certificate_pem"} -> {"verified", "kid_ok", "claims"}
  {"mode": "dcc-issue", "dcc", "issuer", "iat", "exp", "private_key_pem", "certificate_pem"}
      -> {"hc1"}
  {"mode": "shc-verify", "jws", "jwk"} -> {"verified", "header", "claims"}
  {"mode": "shc-issue", "claims", "jwk" (private)} -> {"jws"}
"""

import hashlib
import json
import sys
import zlib

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk, jws
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.headers import KID, Algorithm
from pycose.algorithms import Es256
from pycose.messages import CoseMessage, Sign1Message


def _kid(certificate):
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def _cose_key(public_numbers, d=None):
    size = 32
    attrs = {"x": public_numbers.x.to_bytes(size, "big"),
             "y": public_numbers.y.to_bytes(size, "big")}
    if d is not None:
        attrs["d"] = d.to_bytes(size, "big")
    return EC2Key(crv=P256, **attrs)


def dcc_verify(data):
    certificate = x509.load_pem_x509_certificate(data["certificate_pem"].encode())
    text = data["hc1"]
    assert text.startswith("HC1:")
    cose = zlib.decompress(base45.b45decode(text[4:]))
    message = CoseMessage.decode(cose)
    message.key = _cose_key(certificate.public_key().public_numbers())
    claims = cbor2.loads(message.payload)
    kid = message.phdr.get(KID) or message.uhdr.get(KID)
    return {"verified": message.verify_signature(), "kid_ok": kid == _kid(certificate),
            "alg": message.phdr.get(Algorithm).fullname,
            "claims": {str(k): v for k, v in claims.items() if k != -260},
            "dcc": claims[-260][1]}


def dcc_issue(data):
    certificate = x509.load_pem_x509_certificate(data["certificate_pem"].encode())
    private = serialization.load_pem_private_key(data["private_key_pem"].encode(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    claims = {1: data["issuer"], 6: data["iat"], 4: data["exp"], -260: {1: data["dcc"]}}
    message = Sign1Message(phdr={Algorithm: Es256, KID: _kid(certificate)},
                           payload=cbor2.dumps(claims))
    message.key = _cose_key(private.public_key().public_numbers(),
                            private.private_numbers().private_value)
    encoded = message.encode()  # tag 18, COSE_Sign1
    return {"hc1": "HC1:" + base45.b45encode(zlib.compress(encoded, 9)).decode()}


def shc_verify(data):
    key = jwk.JWK(**data["jwk"])
    token = jws.JWS()
    token.deserialize(data["jws"])
    try:
        token.verify(key, alg="ES256")
        verified = True
    except jws.InvalidJWSSignature:
        verified = False
    header = token.jose_header
    claims = None
    if verified:
        claims = json.loads(zlib.decompress(token.payload, -15))
    return {"verified": verified, "header": header, "claims": claims,
            "thumbprint": key.thumbprint()}


def shc_issue(data):
    key = jwk.JWK(**data["jwk"])
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = deflater.compress(json.dumps(data["claims"], separators=(",", ":")).encode())
    payload += deflater.flush()
    token = jws.JWS(payload)
    token.add_signature(key, alg="ES256", protected=json.dumps(
        {"alg": "ES256", "zip": "DEF", "kid": key.thumbprint()}))
    return {"jws": token.serialize(compact=True)}


MODES = {"dcc-verify": dcc_verify, "dcc-issue": dcc_issue, "shc-verify": shc_verify,
         "shc-issue": shc_issue}

if __name__ == "__main__":
    request = json.load(sys.stdin)
    json.dump(MODES[request["mode"]](request), sys.stdout, default=str)
