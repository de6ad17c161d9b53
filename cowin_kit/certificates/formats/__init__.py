"""The encoded forms of a certificate, each derived from the internal record
(`cowin_kit.certificates.record`): functions of what the caller passes in.

    dcc         EU Digital COVID Certificate (HCERT): encoder, document signer
                certificates, the decoding stages the verifier runs
    dcc_schema  validation against the published EU DCC JSON schema (`DccSchema`)
    shc         SMART Health Cards
    vc          W3C Verifiable Credential 2.0 (DIVOC style) with an eddsa-jcs-2022
                Data Integrity proof
    vc_jws2020  the earlier credential form (JsonWebSignature2020), still verified
    jcs         RFC 8785 JSON canonicalization (what eddsa-jcs-2022 hashes)
    icao        ICAO Doc 9303 name transliteration (the DCC's `nam.fnt`/`nam.gnt`)
    keys        JWK import/export, thumbprints, ECDSA signature encodings, DCC `kid`
    codecs      Base45, base64url, multibase base58btc, zlib and raw DEFLATE, the SHC
                numeric QR mode
    qr          QR images of the signed texts, and reading them back from images

The formats share function names (`issue`, `sign`, `qr_text`...), so each is reached
through its module: `from cowin_kit.certificates.formats import dcc`."""
