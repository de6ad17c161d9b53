"""The country's administrative hierarchy, postal codes and population figures."""
