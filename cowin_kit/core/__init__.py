"""The plumbing every other part of the kit stands on, and which knows none of them:
database sessions (``db``), the error tree (``errors``), what a setting is (``setting``),
translations (``i18n``), keys and tokens (``security``), the internal signals between
domains (``signals``), JSON answers (``jsonio``), logs and metrics (``logging_setup``,
``metrics``), health probes and migrations (``health``, ``migrate``), problem+json answers
(``problems``), input validation (``validation``), rate limits (``ratelimit``), the
response cache (``cache``), the OpenAPI document (``apidoc``) and the PDF engines (``pdf``:
fpdf2 and the shared layout blocks, ``pdf_page``: the direct page writer)."""
