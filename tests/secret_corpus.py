"""Secret shapes as they show up in logs: (name, log text, the secrets in it that must not survive).

The shapes follow gitleaks' rule list (config/gitleaks.toml) and detect-secrets' plugins; the
values are made up, derived from each shape's name so that every run and every secret differs.
A multi-line text (a private key) is logged line by line, as a process prints it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"
LOWER = "abcdefghijklmnopqrstuvwxyz"


def chars(seed: str, size: int, alphabet: str = ALNUM) -> str:
    """Return `size` characters of `alphabet`, the same for the same seed."""
    out: list[str] = []
    counter = 0
    while len(out) < size:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out.extend(alphabet[byte % len(alphabet)] for byte in digest)
        counter += 1
    return "".join(out[:size])


def key_body(seed: str, size: int, width: int) -> list[str]:
    """Return a private key's base64 body (`size` random bytes) wrapped at `width` characters."""
    raw = b"".join(hashlib.sha512(f"{seed}:{n}".encode()).digest() for n in range(size // 64 + 1))
    text = base64.b64encode(raw[:size]).decode()
    return [text[i : i + width] for i in range(0, len(text), width)]


@dataclass(frozen=True)
class Shape:
    """One secret shape: a log text holding it and the secret values in that text."""

    name: str
    text: str
    secrets: tuple[str, ...]


def _pem(name: str, label: str, width: int = 64, headers: str = "") -> Shape:
    body = key_body(name, 300, width)
    lines = [f"-----BEGIN {label}-----", *([headers] if headers else []), *body]
    text = "\n".join([*lines, f"-----END {label}-----"])
    return Shape(name, text, tuple(body))


def _one(name: str, template: str, secret: str) -> Shape:
    return Shape(name, template.format(secret), (secret,))


def _shapes() -> list[Shape]:
    c = chars
    b64_88 = base64.b64encode(hashlib.sha512(b"azure").digest()).decode()
    escaped_body = key_body("json-escaped-key", 120, 64)
    escaped = "\\n".join(escaped_body)
    return [
        _pem("pem-rsa", "RSA PRIVATE KEY"),
        _pem("pem-pkcs8", "PRIVATE KEY"),
        _pem("pem-ec", "EC PRIVATE KEY"),
        _pem("pem-encrypted", "ENCRYPTED PRIVATE KEY"),
        _pem("openssh", "OPENSSH PRIVATE KEY", width=70),
        _pem("pem-legacy-encrypted", "RSA PRIVATE KEY", headers="Proc-Type: 4,ENCRYPTED"),
        Shape(
            "pem-json-escaped",
            '{"level": "info", "msg": "loaded signing key -----BEGIN PRIVATE KEY-----\\n'
            + escaped
            + '\\n-----END PRIVATE KEY-----"}',
            tuple(escaped_body),
        ),
        _one(
            "postgres-url-hash",
            "connecting to postgresql://app:{}@db.internal:5432/app",
            "p#ss" + c("pg", 10),
        ),
        _one(
            "postgres-url-query",
            "DATABASE_URL=postgres://app:{}@ep-cool.neon.tech/db?sslmode=require",
            "w?x" + c("pg2", 12),
        ),
        _one("redis-url", "cache at redis://:{}@cache:6379/0", c("redis", 16)),
        _one(
            "https-basic-url", "POST https://drain:{}@drainwatch.example.com/drains/api", c("u", 14)
        ),
        _one("stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET loaded: {}", "whsec_" + c("wh", 32)),
        _one("stripe-live", "stripe.api_key set to {}", "sk_live_" + c("sl", 24)),
        _one("stripe-restricted", "restricted key {} in use", "rk_live_" + c("rk", 24)),
        _one("google-api-key", "maps client key={}&v=3", "AIza" + c("gcp", 35, ALNUM + "-_")),
        _one("google-oauth", "google access token {}", "ya29." + c("ya", 60, ALNUM + "-_")),
        _one(
            "sendgrid",
            "sendgrid client ready with {}",
            "SG." + c("sg1", 22, ALNUM + "-_") + "." + c("sg2", 43, ALNUM + "-_"),
        ),
        _one("openai-project", "openai.api_key={}", "sk-proj-" + c("oa", 120, ALNUM + "-_")),
        _one("openai-legacy", "OPENAI key {}", "sk-" + c("oal", 48)),
        _one(
            "anthropic",
            "anthropic client key {} configured",
            "sk-ant-api03-" + c("ant", 93, ALNUM + "-_") + "AA",
        ),
        _one("gitlab-pat", "git clone https://gitlab.com/x.git with {}", "glpat-" + c("gl", 20)),
        _one("gitlab-runner", "runner registered token {}", "glrt-" + c("glrt", 20)),
        _one("npm", "//registry.npmjs.org/:_authToken {}", "npm_" + c("npm", 36)),
        _one("cookie-sessionid", "Cookie: sessionid={}; theme=dark", c("sid", 32, LOWER + HEX)),
        _one(
            "set-cookie",
            "Set-Cookie: _myapp_session={}; Path=/; HttpOnly",
            c("rails", 40, ALNUM + "%-"),
        ),
        _one(
            "azure-account-key",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={};EndpointSuffix=core",
            b64_88,
        ),
        _one(
            "azure-sas",
            "GET https://acct.blob.core.windows.net/c/f?sv=2019-12-12&sp=r&sig={} 200",
            c("sas", 43) + "%3D",
        ),
        _one("aws-access-key", "using key {} for s3", "AKIA" + c("aws", 16, ALNUM[:26] + "234567")),
        _one(
            "aws-secret-key",
            "aws_secret_access_key={}",
            c("awss", 40, ALNUM + "+/"),
        ),
        _one("github-pat", "cloning with {}", "ghp_" + c("ghp", 36)),
        _one("github-fine-grained", "token {} expires", "github_pat_" + c("ghf", 82, ALNUM + "_")),
        _one("slack-bot", "slack client {} ready", "xoxb-1234567890-0987654321-" + c("sl", 24)),
        _one(
            "slack-webhook",
            "posting to https://hooks.slack.com/services/{} now",
            "T0" + c("t", 8) + "/B0" + c("b", 8) + "/" + c("x", 24),
        ),
        _one(
            "jwt",
            "session={}; path=/",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx" + c("jwt", 20) + "." + c("sig", 43, ALNUM + "-_"),
        ),
        _one("bearer-header", "Authorization: Bearer {}", c("bearer", 40, ALNUM + "._-")),
        _one("basic-header", 'curl -H "Authorization: Basic {}" https://x', c("basic", 24)),
        _one("password-kv", "login password={} user=bob", c("pw", 12)),
        _one("password-json", '{{"password": "{}", "user": "bob"}}', c("pwj", 14)),
        _one("client-secret", "client_secret={}", c("cs", 30)),
        _one("api-key-kv", "DD_API_KEY={}", c("dd", 32, HEX)),
        _one("x-api-key", "X-Api-Key: {}", c("xak", 32)),
        _one("query-token", "GET /drains/api?token={} HTTP/1.1", c("qt", 24)),
        _one("heroku-v2", "HEROKU_API_KEY is {}", "HRKU-AA" + c("hk", 58, ALNUM + "_-")),
        _one("huggingface", "hub login with {}", "hf_" + c("hf", 34, LOWER + LOWER.upper())),
        _one("digitalocean", "doctl auth init -t {}", "dop_v1_" + c("do", 64, HEX)),
        _one("pypi", "twine upload -p {}", "pypi-AgEIcHlwaS5vcmc" + c("pypi", 70, ALNUM + "-_")),
        _one("vault", "VAULT_TOKEN {} renewed", "hvs." + c("hv", 95, ALNUM + "_-")),
        _one("grafana", "grafana sa {}", "glsa_" + c("gs", 32) + "_" + c("gs2", 8, HEX)),
        _one("sentry", "sentry auth {}", "sntryu_" + c("sentry", 64, HEX)),
        _one("shopify", "shopify token {}", "shpat_" + c("shop", 32, HEX)),
        _one("linear", "linear key {}", "lin_api_" + c("lin", 40)),
        _one("postman", "postman {}", "PMAK-" + c("pm1", 24, HEX) + "-" + c("pm2", 34, HEX)),
        _one("databricks", "databricks host token {}", "dapi" + c("dapi", 32, HEX)),
        _one("doppler", "doppler {}", "dp.pt." + c("dp", 43)),
        _one("render", "RENDER_API_KEY {} set", "rnd_" + c("rnd", 32)),
        _one("supabase", "supabase access {}", "sbp_" + c("sb", 40, HEX)),
        _one("dockerhub", "docker login -p {}", "dckr_pat_" + c("dk", 27, ALNUM + "-_")),
        _one(
            "discord-webhook",
            "notify https://discord.com/api/webhooks/123456789012345678/{}",
            c("dw", 68, ALNUM + "-_"),
        ),
        _one("mailgun", "mailgun api key {}", "key-" + c("mg", 32, HEX)),
        _one(
            "age",
            "age identity {}",
            "AGE-SECRET-KEY-1" + c("age", 58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
        ),
        _one(
            "azure-ad", "azure client secret {}", c("ad", 3) + "8Q~" + c("ad2", 34, ALNUM + "_~.-")
        ),
    ]


SHAPES: tuple[Shape, ...] = tuple(_shapes())
