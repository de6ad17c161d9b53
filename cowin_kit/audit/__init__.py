"""The audit trail: every write records who did what, when and from where."""
