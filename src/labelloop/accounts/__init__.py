"""People: users and roles, password hashing, API tokens, browser sessions."""
