"""Data protection: a person's data export (JSON and PDF), retention (the worker's purge
of OTPs, messages, audit details and abandoned accounts) and pseudonymization of a person
where the law allows it. docs/privacy.md."""
