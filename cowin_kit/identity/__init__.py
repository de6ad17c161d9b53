"""Identity documents, genders, staff accounts and roles."""
