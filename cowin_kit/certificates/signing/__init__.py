"""The keys that sign certificates and the keys trusted to have signed them.

    keystore  this issuer's key generations, read from (and generated into) a folder
    trust     the verifier's trust store: the public keys it accepts"""

from .keystore import KeyGeneration, Keystore
from .trust import TrustedKey, TrustStore

__all__ = ["KeyGeneration", "Keystore", "TrustStore", "TrustedKey"]
