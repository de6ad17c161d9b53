"""The encoded forms of a certificate."""
