"""Texts holding each kind of secret, and ordinary texts that hold none."""

from __future__ import annotations

PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9\nZmFrZWtleWRhdGE=\n"
       "-----END RSA PRIVATE KEY-----")

# (text, the secret that must go, kind)
SECRETS = [
    ("login with password=hunter2 please", "hunter2", "password"),
    ("PASSWORD: Tr0ub4dor&3", "Tr0ub4dor", "password"),
    ("pwd: s3cr3tpw", "s3cr3tpw", "password"),
    ('config {"passwd": "pa55 word"}', "pa55 word", "password"),
    ("db_password = 'quoted secret'", "quoted secret", "password"),
    ("mysql -u root -p Sup3rS3cret db01", "Sup3rS3cret", "password"),
    ("run deploy --password=opensesame42", "opensesame42", "password"),
    ("run deploy --password opensesame42", "opensesame42", "password"),
    ("the password is hunter2", "hunter2", "password"),
    ("the password for db-01 was letmein99", "letmein99", "password"),
    ("connect using password Xyzzy123", "Xyzzy123", "password"),
    ("curl -H 'Authorization: Bearer abcDEF123456ghij' api", "abcDEF123456ghij", "token"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA", "token"),
    ("call it with bearer mF_9.B5f-4.1JqM", "mF_9.B5f-4.1JqM", "token"),
    ("token=abc123def456", "abc123def456", "token"),
    ("refresh_token: rt-998877", "rt-998877", "token"),
    ("use ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 now", "ghp_A1b2C3d4E5f6G7h8I9j0", "token"),
    ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "gho_16C7e42F292c6912E7710c8", "token"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF", "github_pat_11ABCD",
     "token"),
    ("slack xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012", "token"),
    ("xoxp-98765-43210-abcdef", "xoxp-98765-43210", "token"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
     "eyJzdWIiOiIxMjM0NTY3ODkwIn0", "token"),
    ("api_key=9f8e7d6c5b4a", "9f8e7d6c5b4a", "api_key"),
    ("x-api-key: 0a1b2c3d4e", "0a1b2c3d4e", "api_key"),
    ("the api key: k3y-v4lu3", "k3y-v4lu3", "api_key"),
    ("aws key id AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE", "api_key"),
    ("session ASIAY34FZKBOKMUTVV7A expired", "ASIAY34FZKBOKMUTVV7A", "api_key"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI",
     "api_key"),
    ("openai sk-proj-abcdefghij1234567890ABCD", "sk-proj-abcdefghij1234567890", "api_key"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "api_key"),
    ("maps AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890", "api_key"),
    (f"key below\n{PEM}\nthanks", "MIIEowIBAAKCAQEA7bq9", "private_key"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "b3BlbnNzaC1rZXktdjE",
     "private_key"),
    ("postgres://app:s3cretpw@db:5432/x", "s3cretpw", "connection_string"),
    ("redis://:cachepw99@cache-01:6379/0", "cachepw99", "connection_string"),
    ("client_secret=cl1ent5ecret", "cl1ent5ecret", "secret"),
    ("credentials: c0nfidential", "c0nfidential", "secret"),
]

BENIGN = [
    "set pump 3 speed to 1200 rpm", "rotate logs on app-01", "grant access to jsmith as operator",
    "deploy config v1.4.2 to auth-gateway in prod", "add jsmith as admin for 30m",
    "123e4567-e89b-12d3-a456-426614174000", "ssh -p 2222 edge-01", "reset password for jsmith",
    "the password is incorrect", "password expired for lchen", "token bucket refill 5/s",
    "set x=10 y=20 on arm-1", "position arm-2 at x=-5.5 y=3 z=12", "see https://example.com/docs",
    "status: ok", "max_tokens: 512", "keep 7 files", "api-gateway returned 503",
    "restart the ask-pump and disk-01", "bearer of bad news", "' UNION SELECT name, password --",
]
