"""Settings, country packs (schema, validator, installer, starter packs)."""
