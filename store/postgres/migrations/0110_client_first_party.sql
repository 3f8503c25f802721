-- First-party clients (issue 10): only a client the operator marks as its
-- own may log users in with their password through /v1/login (RFC 9700
-- §2.4 forbids the password grant to the others). Existing clients are
-- third party until an administrator says otherwise: failing closed.
ALTER TABLE clients ADD COLUMN first_party boolean NOT NULL DEFAULT false;
