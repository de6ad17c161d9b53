"""The keys that sign certificates and the keys trusted to have signed them."""
