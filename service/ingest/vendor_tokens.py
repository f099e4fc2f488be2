"""Vendor token shapes that redaction replaces wherever they appear: (rule id, triggers, regex).

Shapes come from gitleaks' maintained rule list (github.com/gitleaks/gitleaks,
config/gitleaks.toml at b58d3f10, rule ids kept), with a few vendors it lacks (Stripe `whsec_`,
Render `rnd_`, Supabase, Docker Hub, Google OAuth) from the vendors' documented prefixes. Lengths
are widened into ranges, so a token a few characters off the documented length is caught too.
Triggers are lower-case literals of which one must occur before the regex runs.
"""

from __future__ import annotations

VENDOR_TOKENS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "aws-access-token",
        ("akia", "asia", "abia", "acca", "a3t"),
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
    ),
    (
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255}",
    ),
    (
        "gitlab-token",
        (
            "glpat-",
            "gldt-",
            "glrt-",
            "glft-",
            "glptt-",
            "glcbt-",
            "gloas-",
            "glsoat-",
            "glimt-",
            "glagent-",
            "glffct-",
            "gr1348941",
        ),
        r"gl(?:pat|dt|rt|ft|ptt|cbt|oas|soat|imt|agent|ffct)-[\w.-]{20,300}|GR1348941[\w-]{20,64}",
    ),
    (
        "slack-token",
        ("xox", "xapp-"),
        r"xox[a-z]-[A-Za-z0-9-]{10,255}|xoxe\.xox[bp]-[A-Za-z0-9-]{10,255}"
        r"|xapp-\d-[A-Za-z0-9-]{10,255}",
    ),
    (
        "stripe-access-token",
        ("k_live_", "k_test_", "k_prod_", "whsec_"),
        r"[sr]k_(?:live|test|prod)_[A-Za-z0-9]{8,255}|whsec_[A-Za-z0-9+/=]{16,255}",
    ),
    ("gcp-api-key", ("aiza",), r"AIza[\w-]{30,64}"),
    ("google-oauth-token", ("ya29.", "gocspx-"), r"ya29\.[\w-]{20,2048}|GOCSPX-[\w-]{20,64}"),
    ("sendgrid-api-token", ("sg.",), r"SG\.[\w-]{16,32}\.[\w-]{16,64}"),
    (
        "anthropic-api-key",
        ("sk-ant-",),
        r"sk-ant-[a-z]{2,10}[0-9]{0,3}-[\w-]{20,512}",
    ),
    (
        "openai-api-key",
        ("sk-",),
        r"sk-(?:proj|svcacct|admin|None)-[\w-]{20,512}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20,}"
        r"|sk-[A-Za-z0-9]{32,255}",
    ),
    ("npm-access-token", ("npm_",), r"npm_[A-Za-z0-9]{36,255}"),
    ("pypi-upload-token", ("pypi-ageichlwas5vcmc",), r"pypi-AgEIcHlwaS5vcmc[\w-]{50,1000}"),
    ("huggingface-access-token", ("hf_", "api_org_"), r"(?:hf|api_org)_[A-Za-z]{34,64}"),
    ("digitalocean-token", ("_v1_",), r"do[opr]_v1_[a-f0-9]{64}"),
    ("heroku-api-key-v2", ("hrku-",), r"HRKU-AA[\w-]{58,64}"),
    (
        "shopify-access-token",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    ),
    ("postman-api-token", ("pmak-",), r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    ("linear-api-key", ("lin_api_", "lin_oauth_"), r"lin_(?:api|oauth)_[A-Za-z0-9]{40,64}"),
    (
        "doppler-api-token",
        ("dp.pt.", "dp.st.", "dp.ct.", "dp.sa."),
        r"dp\.(?:pt|st|ct|sa)\.[A-Za-z0-9]{40,64}",
    ),
    ("hashicorp-tf-api-token", ("atlasv1",), r"[A-Za-z0-9]{14}\.atlasv1\.[\w=-]{60,70}"),
    ("databricks-api-token", ("dapi",), r"dapi[a-f0-9]{32}(?:-\d)?"),
    ("vault-token", ("hvs.", "hvb."), r"hv[sb]\.[\w-]{24,300}"),
    (
        "grafana-token",
        ("glc_", "glsa_"),
        r"glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
    ),
    ("sentry-token", ("sntrys_", "sntryu_"), r"sntry[su]_[\w+/=]{40,400}"),
    ("age-secret-key", ("age-secret-key-1",), r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    ("planetscale-token", ("pscale_",), r"pscale_(?:tkn|pw|oauth)_[\w=.-]{32,64}"),
    ("new-relic-key", ("nrak-", "nrii-", "nrjs-"), r"NR(?:AK|II|JS)-[A-Za-z0-9]{19,40}"),
    ("azure-ad-client-secret", ("q~",), r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),
    (
        "flyio-access-token",
        ("fo1_", "fm1a_", "fm1r_", "fm2_"),
        r"fo1_[\w-]{43}|fm(?:1[ar]|2)_[A-Za-z0-9+/]{100,}={0,3}",
    ),
    ("perplexity-api-key", ("pplx-",), r"pplx-[A-Za-z0-9]{48}"),
    ("notion-api-token", ("ntn_",), r"ntn_[0-9]{11}[A-Za-z0-9]{35}"),
    (
        "square-access-token",
        ("eaaa", "sq0atp-", "sq0csp-"),
        r"(?:EAAA|sq0atp-|sq0csp-)[\w-]{22,60}",
    ),
    ("sendinblue-api-token", ("xkeysib-",), r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    ("atlassian-api-token", ("atatt3",), r"ATATT3[\w=-]{100,300}"),
    ("rubygems-api-token", ("rubygems_",), r"rubygems_[a-f0-9]{48}"),
    ("openshift-user-token", ("sha256~",), r"sha256~[\w-]{43}"),
    ("dynatrace-api-token", ("dt0c01.",), r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    ("pulumi-api-token", ("pul-",), r"pul-[a-f0-9]{40}"),
    ("mailgun-private-api-token", ("key-",), r"key-[a-f0-9]{32}"),
    ("render-api-key", ("rnd_",), r"rnd_[A-Za-z0-9]{20,255}"),
    ("supabase-token", ("sbp_", "sb_secret_"), r"sbp_[a-f0-9]{40}|sb_secret_[\w-]{20,255}"),
    ("dockerhub-pat", ("dckr_pat_",), r"dckr_pat_[\w-]{20,255}"),
)
