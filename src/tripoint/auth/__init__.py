"""Identity and access: virtual API keys, JWT bearer tokens, roles, teams and the admin API."""
